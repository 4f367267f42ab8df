"""The whole pipeline from six views, per preset, time per stage (target: <= 120 s per object
at `standard` on 2 CPU cores).

    .venv-backend/bin/python benchmarks/bench_pipeline.py [--presets draft standard] [--repeats 1]
        [--threads 2] [--device cpu] [--seed 7]

Input: the demo's coloured random object rendered into the six prior views at 320 px (the
oracle). Baseline in the same process: the visual hull of the six masks, extracted and
coloured without any optimisation (what the pipeline starts from without an SAE); the ratio
says what the optimisation costs, the IoU column what it buys. The machine is shared, so
also printed: CPU seconds of this process per wall second (1.0 per core we actually got).
Medians over --repeats runs; one warm-up run of the tiny preset first (numba JIT, caches).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["draft", "standard"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-sae", action="store_true", help="optimise the SDF grid directly even if an SAE is installed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from latentdreamer.api import GenerateSettings
    from latentdreamer.device import resolve_device
    from latentdreamer.geometry.example_object import example_object
    from latentdreamer.geometry.flexicubes import flexicubes
    from latentdreamer.locations import Locations
    from latentdreamer.metrics.geometry import evaluate_geometry
    from latentdreamer.optimise.presets import get_preset
    from latentdreamer.optimise.targets import view_targets
    from latentdreamer.pipeline.generate import PipelineOptions, generate_from_views
    from latentdreamer.pipeline.oracle_views import oracle_views
    from latentdreamer.pipeline.shape_prior import load_shape_prior
    from latentdreamer.render.cameras import prior_cameras
    from latentdreamer.render.visual_hull import visual_hull_sdf

    device = resolve_device(args.device)
    truth, views = oracle_views(example_object(args.seed))
    prior = load_shape_prior(device, Locations.from_environment(), use_sae=not args.no_sae)
    print(f"object: random shape seed {args.seed}, {truth.num_faces} triangles; device {device}; threads {args.threads}")
    print(f"shape prior: {prior.source}; LIN: {'yes' if prior.lin is not None else 'no'}")
    generate_from_views(views, GenerateSettings(preset="tiny", device=args.device), options=PipelineOptions(), prior=prior)

    for name in args.presets:
        preset = get_preset(name)
        hull_times, hull_mesh = [], None
        for _ in range(max(3, args.repeats)):
            t = time.perf_counter()
            targets = view_targets(views, preset.render_resolution, device)
            hull_mesh = flexicubes(visual_hull_sdf(targets.mask, prior_cameras().to(device), preset.sdf_resolution)).to_mesh()
            hull_times.append(time.perf_counter() - t)
        runs = []
        for _ in range(args.repeats):
            wall, cpu = time.perf_counter(), cpu_seconds()
            result = generate_from_views(views, GenerateSettings(preset=name, device=args.device, seed=args.seed), prior=prior)
            runs.append((result, time.perf_counter() - wall, cpu_seconds() - cpu))
        total = statistics.median(r[1] for r in runs)
        cores = statistics.median(r[2] / r[1] for r in runs)
        stages = {k: statistics.median(r[0].timings[k] for r in runs) for k in runs[0][0].timings if k != "total"}
        result = runs[0][0]
        iou = evaluate_geometry(result.mesh, truth, count=20_000).volume_iou
        hull_iou = evaluate_geometry(hull_mesh, truth, count=20_000).volume_iou
        hull_s = statistics.median(hull_times)
        print(
            f"\n[{name}] sdf {preset.sdf_resolution}^3, render {preset.render_resolution} px, texture grid {preset.texture_grid}^3"
        )
        print(
            f"  total {total:.1f} s (median of {args.repeats}); CPU use {cores:.2f} cores; "
            f"{result.stats['vertices']} vertices, {result.stats['triangles']} triangles"
        )
        print("  stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
        print(
            f"  iterations: coarse {result.stats['iterations_coarse']}, refine {result.stats['iterations_refine']}, "
            f"texture {result.stats.get('iterations_texture', 0)}; "
            f"coarse {stages['coarse'] / max(1, result.stats['iterations_coarse']):.2f} s/step, "
            f"refine {stages['refine'] / max(1, result.stats['iterations_refine']):.2f} s/step"
        )
        print(
            f"  volume IoU vs truth {iou:.3f}; baseline visual hull {hull_iou:.3f} in {hull_s:.2f} s "
            f"(pipeline / baseline time {total / hull_s:.0f}x)"
        )
        print(f"  target <= 120 s at standard: {'met' if total <= 120 else 'NOT met'}" if name == "standard" else "", end="")


if __name__ == "__main__":
    main()
