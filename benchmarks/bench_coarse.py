"""The coarse stage against its old path, per development mesh: seconds and volume IoU.

    .venv-backend/bin/python benchmarks/bench_coarse.py [--preset standard] [--meshes armchair duck_bob ...]
        [--repeats 1] [--threads N] [--view-size 256]

Per mesh (oracle views of `shared/eval/meshes`, docs/evaluation.md's protocol), the whole
pipeline runs twice in this process, old and new alternating: "old" is the preset with the
coarse stage as it was before the band decode (the SAE decoder evaluated at every grid sample
every step: OLD_COARSE), "new" the preset as shipped. Printed per mesh: coarse
steps, coarse-stage and total seconds (medians over --repeats), the time ratio old / new,
and volume IoU, Chamfer and F@0.05 of each (docs/design.md §7, 100k points) with the IoU
difference; then the medians and means and whether new is within 0.01 IoU of old on every
mesh. Runs of one object differ by up to ~0.015 IoU from run to run (docs/evaluation.md), so
look at the mean and at several repeats before reading one mesh's difference.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from dataclasses import replace

IOU_TOLERANCE = 0.01


def cpu_seconds() -> float:
    """CPU time of this process: on a shared machine a fairer clock than the wall's."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


OLD_COARSE = {"band_refresh_steps": 0}
"""The coarse stage before issue 14: the decoder at every grid sample every step."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--meshes", nargs="*", default=None, help="eval mesh names (default: all)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="the user's override (default: as shipped)")
    parser.add_argument("--view-size", type=int, default=256)
    args = parser.parse_args()
    from latentdreamer.threads import apply, configure_process

    apply(configure_process(args.threads))  # as every backend process starts (--threads: the override)
    import torch

    from latentdreamer.api import GenerateSettings
    from latentdreamer.io.eval_meshes import default_eval_root, find_eval_meshes
    from latentdreamer.locations import Locations
    from latentdreamer.metrics.geometry import evaluate_geometry
    from latentdreamer.optimise.presets import get_preset
    from latentdreamer.pipeline.generate import PipelineOptions, generate_from_views
    from latentdreamer.pipeline.oracle_views import load_oracle_mesh, oracle_views
    from latentdreamer.pipeline.shape_prior import load_shape_prior

    new = get_preset(args.preset)
    variants = {"old": replace(new, **OLD_COARSE), "new": new}
    prior = load_shape_prior(torch.device("cpu"), Locations.from_environment())
    paths = [e for e in find_eval_meshes(default_eval_root()) if args.meshes is None or e.name in args.meshes]
    print(
        f"preset {args.preset}; threads {args.threads or 'as shipped'}; shape prior {prior.source}; {len(paths)} meshes; {args.repeats} repeat(s)"
    )
    settings = GenerateSettings(preset=args.preset, device="cpu")
    generate_from_views(
        oracle_views(load_oracle_mesh(paths[0]), resolution=64)[1],
        GenerateSettings(preset="tiny", device="cpu"),
        prior=prior,
    )  # warm-up: numba JIT and caches, so the first mesh's old run is not charged for them
    rows: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for path in paths:
        truth, views = oracle_views(load_oracle_mesh(path), resolution=args.view_size)
        runs: dict[str, list] = {"old": [], "new": []}
        for _ in range(args.repeats):
            for name, preset in variants.items():
                started, cpu = time.perf_counter(), cpu_seconds()
                result = generate_from_views(views, settings, options=PipelineOptions(preset=preset), prior=prior)
                runs[name].append((time.perf_counter() - started, result, cpu_seconds() - cpu))
        line = f"{path.name:>16}"
        for name, got in runs.items():
            g = [evaluate_geometry(r.mesh, truth).as_dict() for _, r, _ in got]
            row = {
                "s": statistics.median(s for s, _, _ in got),
                "cpu_s": statistics.median(c for _, _, c in got),
                "coarse_s": statistics.median(r.timings["coarse"] for _, r, _ in got),
                "steps": statistics.median(r.stats["iterations_coarse"] for _, r, _ in got),
                "iou": statistics.mean(x["volume_iou"] for x in g),
                "chamfer": statistics.mean(x["chamfer"] for x in g),
                "f005": statistics.mean(x["f_score_005"] for x in g),
            }
            rows[name].append(row)
            line += (
                f" | {name}: {row['steps']:.0f} steps, coarse {row['coarse_s']:5.1f} s, total {row['s']:5.1f} s "
                f"(CPU {row['cpu_s']:5.1f} s), "
                f"IoU {row['iou']:.3f} Ch {row['chamfer']:.4f} F {row['f005']:.3f}"
            )
        old, cur = rows["old"][-1], rows["new"][-1]
        print(
            f"{line} | ratio {old['s'] / cur['s']:.2f}x (CPU {old['cpu_s'] / cur['cpu_s']:.2f}x), IoU {cur['iou'] - old['iou']:+.3f}",
            flush=True,
        )

    mean = lambda name, key: statistics.mean(r[key] for r in rows[name])  # noqa: E731
    median = lambda name, key: statistics.median(r[key] for r in rows[name])  # noqa: E731
    ratios = [o["s"] / n["s"] for o, n in zip(rows["old"], rows["new"], strict=True)]
    cpu_ratios = [o["cpu_s"] / n["cpu_s"] for o, n in zip(rows["old"], rows["new"], strict=True)]
    worst = max(abs(n["iou"] - o["iou"]) for o, n in zip(rows["old"], rows["new"], strict=True))
    print(
        f"\nold: median {median('old', 's'):.1f} s per mesh (coarse {median('old', 'coarse_s'):.1f} s), "
        f"mean IoU {mean('old', 'iou'):.3f}, Chamfer {mean('old', 'chamfer'):.4f}, F@0.05 {mean('old', 'f005'):.3f}"
    )
    print(
        f"new: median {median('new', 's'):.1f} s per mesh (coarse {median('new', 'coarse_s'):.1f} s), "
        f"mean IoU {mean('new', 'iou'):.3f}, Chamfer {mean('new', 'chamfer'):.4f}, F@0.05 {mean('new', 'f005'):.3f}"
    )
    print(
        f"time old / new: median {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}; "
        f"CPU time {statistics.median(cpu_ratios):.2f}x); "
        f"largest IoU difference {worst:.3f} "
        f"({'within' if worst <= IOU_TOLERANCE else 'NOT within'} {IOU_TOLERANCE} on every mesh), "
        f"mean {mean('new', 'iou') - mean('old', 'iou'):+.3f}"
    )


if __name__ == "__main__":
    main()
