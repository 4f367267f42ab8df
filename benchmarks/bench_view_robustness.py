"""What the pipeline's defaults for views that disagree buy, each switched off, at degradation levels.

    .venv-backend/bin/python benchmarks/bench_view_robustness.py [--preset standard] [--levels 0 2]
        [--meshes armchair cat ...] [--variants shipped before] [--only jitter,elevation] [--seeds 0 1]

Per development mesh, level and seed (eval/degrade.py's seeded perturbations, the object
seed `eval generate --degrade --seed S` uses, 256 px views; `--seeds 0 1` averages over two
draws, since one object's score moves by up to 0.05 IoU with the order of a float sum), the pipeline runs once per variant in
this process (VARIANTS): "shipped" (the start from LIN, the framing measured from the
silhouettes, per-view camera corrections, the confidence-weighted normal loss),
"best-start" (the start of LIN and the hull encoding that matches the views best),
"no-framing" (the views trusted to show the object at the assumed size), "no-corrections"
(the cameras taken as exact once framed), "plain-losses" (every view and pixel weighed
alike, optimise/losses.py), "plain-texture" (every view that sees a point weighed alike in
the colour stages instead of the view-aware max(0, cos)^k), and "before" (the first four as
they were: best start, trusted framing, exact cameras, plain losses); geometry only (the
cameras reach the colour stages the same way), unless `--texture` bakes the UV texture too
and scores it in six novel views (PSNR/SSIM, eval/generation.py's protocol). Printed per run: coarse steps, seconds,
volume IoU, Chamfer, F@0.02 (docs/design.md §7, 100k points), the start, the framing and
what the corrections came to; then per level and variant the means, and each variant against
`--baseline` ("before"). At one thread the runs are deterministic, so variants can be run in separate
sittings and compared.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

VARIANTS: dict[str, tuple[dict, bool]] = {
    "shipped": ({}, False),
    "best-start": ({"init": "best"}, False),
    "no-framing": ({"fit_framing": False}, False),
    "no-corrections": ({"correct_views": False}, False),
    "plain-losses": ({}, True),
    "plain-texture": ({"view_aware": False}, False),
    "before": ({"init": "best", "fit_framing": False, "correct_views": False}, True),
}
"""Variant -> (the PipelineOptions it changes, whether it uses the plain losses)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--levels", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--meshes", nargs="*", default=None, help="eval mesh names (default: all)")
    parser.add_argument("--variants", nargs="+", default=["shipped", "before"], choices=list(VARIANTS))
    parser.add_argument("--only", default=None, help="only these perturbations, comma-separated (default: all)")
    parser.add_argument("--view-size", type=int, default=256)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--baseline", default="before", choices=list(VARIANTS), help="the variant the others are compared with")
    parser.add_argument("--texture", action="store_true", help="bake the UV texture and score it in novel views")
    args = parser.parse_args()
    from latentdreamer.threads import apply, configure_process

    apply(configure_process(None))  # as every backend process starts
    import torch

    from latentdreamer.api import GenerateSettings
    from latentdreamer.eval.degrade import level, object_seed, render_degraded
    from latentdreamer.eval.generation import image_scores, novel_cameras
    from latentdreamer.io.eval_meshes import default_eval_root, find_eval_meshes
    from latentdreamer.locations import Locations
    from latentdreamer.metrics.geometry import evaluate_geometry
    from latentdreamer.optimise.losses import PLAIN_LOSSES
    from latentdreamer.optimise.presets import get_preset
    from latentdreamer.pipeline.generate import PipelineOptions, generate_from_views
    from latentdreamer.pipeline.oracle_views import load_oracle_mesh, oracle_views
    from latentdreamer.pipeline.shape_prior import load_shape_prior

    prior = load_shape_prior(torch.device("cpu"), Locations.from_environment())
    entries = [e for e in find_eval_meshes(default_eval_root()) if args.meshes is None or e.name in args.meshes]
    settings = GenerateSettings(preset=args.preset, device="cpu", texture="uv" if args.texture else False)
    only = {n.strip() for n in args.only.split(",")} if args.only else None
    print(f"preset {args.preset}; shape prior {prior.source}; {len(entries)} meshes; perturbations {args.only or 'all'}")
    rows: dict[tuple[int, str], list[dict[str, float]]] = {}
    for number in args.levels:
        degradation = level(number, only)
        seeds = degradation.seeds_to_run(args.seeds)
        for entry, seed in ((e, s) for e in entries for s in seeds):
            truth, _ = oracle_views(load_oracle_mesh(entry), resolution=args.view_size)
            views = render_degraded(truth, degradation, object_seed(seed, entry.name), args.view_size)
            for variant in args.variants:
                started = time.perf_counter()
                changed_options, plain = VARIANTS[variant]
                preset = replace(get_preset(args.preset), **(PLAIN_LOSSES if plain else {}))
                options = PipelineOptions(**changed_options, preset=preset)
                result = generate_from_views(views, settings, options=options, prior=prior)
                seconds = time.perf_counter() - started
                g = evaluate_geometry(result.mesh, truth)
                row = {"iou": g.volume_iou, "chamfer": g.chamfer, "f2": g.f_score_002, "s": seconds}
                if args.texture:
                    novel = image_scores(truth, result.mesh, novel_cameras(), args.view_size)
                    row.update(psnr=novel["psnr"], ssim=novel["ssim"])
                rows.setdefault((number, variant), []).append(row)
                found = {k[5:]: v for k, v in result.stats.items() if k.startswith("view_")}
                print(
                    f"level {number} seed {seed} {entry.name:16s} {variant:14s}: start {result.stats['init']}, "
                    f"steps {result.stats['iterations_coarse']:3d}, "
                    f"{seconds:5.1f} s, IoU {g.volume_iou:.4f}, Chamfer {g.chamfer:.5f}, F@0.02 {g.f_score_002:.4f} "
                    + (f"novel PSNR {row['psnr']:.2f} SSIM {row['ssim']:.4f} " if args.texture else "")
                    + f"{found or ''}",
                    flush=True,
                )
    keys = ("iou", "chamfer", "f2") + (("psnr", "ssim") if args.texture else ())
    print("\n| level | variant | n | " + " | ".join(keys) + " | s / object (median) |")
    print("|---" * (4 + len(keys)) + "|")
    for (number, variant), got in sorted(rows.items()):
        mean = " | ".join(f"{statistics.fmean(r[k] for r in got):.5g}" for k in keys)
        print(f"| {number} | {variant} | {len(got)} | {mean} | {statistics.median(r['s'] for r in got):.1f} |")
    compared = "psnr" if args.texture else "iou"
    for number in args.levels:
        base = rows.get((number, args.baseline))
        for variant in args.variants:
            got = rows[(number, variant)]
            if base is None or variant == args.baseline:
                continue
            diff = [a[compared] - b[compared] for a, b in zip(got, base, strict=True)]
            ratio = statistics.fmean(r["chamfer"] for r in got) / statistics.fmean(r["chamfer"] for r in base)
            print(
                f"level {number}: {variant} - {args.baseline} {compared} mean {statistics.fmean(diff):+.4f} "
                f"(best {max(diff):+.4f}, worst {min(diff):+.4f}, better in {sum(d > 0 for d in diff)} of {len(diff)}); "
                f"Chamfer {variant} / {args.baseline} {ratio:.3f}"
            )


if __name__ == "__main__":
    main()
