"""Quality against time for variants of a preset, on the evaluation meshes.

    .venv-backend/bin/python benchmarks/compare_presets.py [--base standard] \
        [--meshes FOLDER] [--objects armchair cup_blue ...] [--variant NAME:key=value,key=value ...] \
        [--levels 0 2] [--seeds 0 1] [--threads N]

Keys: sdf (SDF samples per axis), render (px, geometry stages), coarse_steps, refine_steps,
texture_steps, any numeric Preset field by name (mask_decay_fraction=0.33, view_power=3) and
any stage budget field as stage.field (coarse.rel_tol=3e-3, coarse.window=8). Every variant
runs the full pipeline (shipped SAE + LIN, the shipped defaults) on the same objects (the
development meshes, or any folder `eval` reads: `--meshes ../shared/eval/thin`) in this
process, the base preset itself first as the baseline, from oracle views (level 0) or views
perturbed at `--levels` (eval/degrade.py, one draw per `--seeds` entry: one object's score
moves by up to 0.05 IoU with the order of a float sum, so compare over two seeds). Threads as
every backend process sets them (`--threads`: the user's override). Printed per run and as
means per level: volume IoU, Chamfer, F@0.02, F@0.05 (docs/design.md §7, 100k points), coarse
steps and wall seconds; each variant's time as a ratio of the base, its IoU difference
(mean, worst) and its slowest object. This is how the presets' budgets were chosen.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from dataclasses import replace

KEYS = {"sdf": "sdf_resolution", "render": "render_resolution"}
STAGES = {"coarse_steps": "coarse", "refine_steps": "refine", "texture_steps": "texture"}


def _number(text: str) -> int | float:
    return int(text) if text.lstrip("-").isdigit() else float(text)


def make_variant(base, spec: str):
    """'name:key=value,...' -> (name, preset with those fields replaced)."""
    name, _, body = spec.partition(":")
    preset = base
    fields = {f.name for f in dataclasses.fields(base)}
    for item in filter(None, body.split(",")):
        key, _, text = item.partition("=")
        stage, _, budget_field = key.partition(".")
        if key in KEYS:
            preset = replace(preset, **{KEYS[key]: int(text)})
        elif key in STAGES:
            preset = preset.with_max_steps(**{STAGES[key]: int(text)})
        elif budget_field and stage in STAGES.values():
            preset = replace(preset, **{stage: replace(getattr(preset, stage), **{budget_field: _number(text)})})
        elif key in fields and isinstance(getattr(base, key), (int, float)):
            preset = replace(preset, **{key: _number(text)})
        else:
            raise SystemExit(f"unknown key {key!r} in {spec!r}; use {', '.join([*KEYS, *STAGES])}, a Preset field or stage.field")
    return name, preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="standard")
    parser.add_argument("--meshes", default=None, help="a folder of meshes (default: the development meshes)")
    parser.add_argument("--objects", nargs="*", default=None, help="entry names in it (default: all)")
    parser.add_argument("--variant", action="append", default=[])
    parser.add_argument("--levels", type=int, nargs="+", default=[0], help="degradation levels (0: oracle views)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--view-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="the user's override (default: as shipped)")
    args = parser.parse_args()
    from latentdreamer.threads import apply, configure_process

    apply(configure_process(args.threads))  # as every backend process starts
    import torch

    from latentdreamer.api import GenerateSettings
    from latentdreamer.eval.degrade import level, object_seed, render_degraded
    from latentdreamer.io.eval_meshes import default_eval_root, find_eval_meshes
    from latentdreamer.locations import Locations
    from latentdreamer.metrics.geometry import evaluate_geometry
    from latentdreamer.optimise.presets import get_preset
    from latentdreamer.pipeline.generate import PipelineOptions, generate_from_views
    from latentdreamer.pipeline.oracle_views import load_oracle_mesh, oracle_views
    from latentdreamer.pipeline.shape_prior import load_shape_prior

    base = get_preset(args.base)
    variants = [(args.base, base)] + [make_variant(base, spec) for spec in args.variant]
    prior = load_shape_prior(torch.device("cpu"), Locations.from_environment())
    entries = [e for e in find_eval_meshes(args.meshes or default_eval_root()) if args.objects is None or e.name in args.objects]
    settings = GenerateSettings(preset=args.base, device="cpu")
    print(f"shape prior: {prior.source}; LIN: {'yes' if prior.lin is not None else 'no'}; {len(entries)} objects")
    rows: dict[tuple[int, str], list[dict]] = {}
    for number in args.levels:
        degradation = level(number)
        for entry in entries:
            truth, oracle = oracle_views(load_oracle_mesh(entry), resolution=args.view_size)
            for seed in degradation.seeds_to_run(args.seeds):
                views = render_degraded(truth, degradation, object_seed(seed, entry.name), args.view_size) if number else oracle
                for name, preset in variants:
                    t = time.perf_counter()
                    result = generate_from_views(views, settings, options=PipelineOptions(preset=preset), prior=prior)
                    seconds = time.perf_counter() - t
                    g = evaluate_geometry(result.mesh, truth)
                    steps = result.stats["iterations_coarse"]
                    rows.setdefault((number, name), []).append(
                        {
                            "object": entry.name,
                            "iou": g.volume_iou,
                            "chamfer": g.chamfer,
                            "f2": g.f_score_002,
                            "f5": g.f_score_005,
                            "steps": steps,
                            "s": seconds,
                        }
                    )
                    print(
                        f"level {number} seed {seed} {entry.name:>16} {name:>12}: IoU {g.volume_iou:.4f}  "
                        f"Chamfer {g.chamfer:.5f}  F@0.02 {g.f_score_002:.3f}  F@0.05 {g.f_score_005:.3f}  "
                        f"{seconds:5.1f} s  (coarse {steps} steps, {result.timings['coarse']:.1f} s)",
                        flush=True,
                    )
    print("\nmeans per level (time: median per run, ratio to the base)")
    for number in args.levels:
        base_rows = rows[(number, args.base)]
        base_s = statistics.median(r["s"] for r in base_rows)
        for name, _ in variants:
            r = rows[(number, name)]
            med = statistics.median(x["s"] for x in r)
            diff = [a["iou"] - b["iou"] for a, b in zip(r, base_rows, strict=True)]
            slowest = max(r, key=lambda x: x["s"])
            print(
                f"level {number} {name:>12}: IoU {statistics.fmean(x['iou'] for x in r):.4f} "
                f"(vs base {statistics.fmean(diff):+.4f}, worst {min(diff):+.4f})  "
                f"Chamfer {statistics.fmean(x['chamfer'] for x in r):.5f}  F@0.02 {statistics.fmean(x['f2'] for x in r):.3f}  "
                f"F@0.05 {statistics.fmean(x['f5'] for x in r):.3f}  coarse steps {statistics.fmean(x['steps'] for x in r):.0f}  "
                f"{med:.1f} s ({med / base_s:.2f}x), slowest {slowest['object']} {slowest['s']:.1f} s"
            )


if __name__ == "__main__":
    main()
