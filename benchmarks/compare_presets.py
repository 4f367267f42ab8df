"""Quality against time for variants of a preset, on the evaluation meshes (oracle views).

    .venv-backend/bin/python benchmarks/compare_presets.py [--base standard] \
        [--objects armchair cup_blue ...] [--variant NAME:key=value,key=value ...]

Keys: sdf (SDF samples per axis), render (px, geometry stages), coarse_steps, refine_steps,
texture_steps. Every variant runs the full pipeline (shipped SAE + LIN, auto start) on the
same objects in this process, and the base preset itself is always run first as the baseline;
printed per object and as means: volume IoU, Chamfer, F@0.05 (docs/design.md §7, 100k points)
and wall seconds, and each variant's time as a ratio of the base. This is how the presets'
budgets were chosen (the time target is 120 s at `standard` on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

KEYS = {"sdf": "sdf_resolution", "render": "render_resolution"}
STAGES = {"coarse_steps": "coarse", "refine_steps": "refine", "texture_steps": "texture"}


def make_variant(base, spec: str):
    """'name:key=value,...' -> (name, preset with those fields replaced)."""
    name, _, body = spec.partition(":")
    preset = base
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        if key in KEYS:
            preset = replace(preset, **{KEYS[key]: int(value)})
        elif key in STAGES:
            preset = preset.with_max_steps(**{STAGES[key]: int(value)})
        else:
            raise SystemExit(f"unknown key {key!r} in {spec!r}; use {', '.join([*KEYS, *STAGES])}")
    return name, preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="standard")
    parser.add_argument("--objects", nargs="*", default=None, help="eval mesh names (default: all)")
    parser.add_argument("--variant", action="append", default=[])
    parser.add_argument("--view-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from latentdreamer.api import GenerateSettings
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
    entries = [e for e in find_eval_meshes(default_eval_root()) if args.objects is None or e.name in args.objects]
    print(f"shape prior: {prior.source}; LIN: {'yes' if prior.lin is not None else 'no'}; {len(entries)} objects")
    rows: dict[str, list[dict[str, float]]] = {name: [] for name, _ in variants}
    for entry in entries:
        truth, views = oracle_views(load_oracle_mesh(entry), resolution=args.view_size)
        for name, preset in variants:
            t = time.perf_counter()
            result = generate_from_views(
                views, GenerateSettings(preset=args.base, device="cpu"), options=PipelineOptions(preset=preset), prior=prior
            )
            seconds = time.perf_counter() - t
            g = evaluate_geometry(result.mesh, truth).as_dict()
            rows[name].append({"iou": g["volume_iou"], "chamfer": g["chamfer"], "f005": g["f_score_005"], "s": seconds})
            print(
                f"{entry.name:>16} {name:>12}: IoU {g['volume_iou']:.3f}  Chamfer {g['chamfer']:.4f}  "
                f"F@0.05 {g['f_score_005']:.3f}  {seconds:5.1f} s  (coarse {result.stats['iterations_coarse']} steps)",
                flush=True,
            )
    base_s = statistics.median(r["s"] for r in rows[args.base])
    print("\nmeans (time: median per object, ratio to the base)")
    for name, preset in variants:
        r = rows[name]
        med = statistics.median(x["s"] for x in r)
        print(
            f"{name:>12}: sdf {preset.sdf_resolution} render {preset.render_resolution} coarse {preset.coarse.max_steps} "
            f"refine {preset.refine.max_steps} | IoU {statistics.fmean(x['iou'] for x in r):.3f}  "
            f"Chamfer {statistics.fmean(x['chamfer'] for x in r):.4f}  F@0.05 {statistics.fmean(x['f005'] for x in r):.3f}  "
            f"{med:.1f} s ({med / base_s:.2f}x)"
        )


if __name__ == "__main__":
    main()
