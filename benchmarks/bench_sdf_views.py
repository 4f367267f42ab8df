"""LIN training views: tracing the SDF grid (render/sdf_views.py) vs FlexiCubes + rasterising.

LIN's data are six 64 px normal maps + masks of each random object. Baseline in the same
process: what render/views.py needs for the same picture, FlexiCubes extraction of the
mesh plus one six-view rasterisation. Medians of --repeats runs per object (wall and CPU
seconds: on shared machines wall time mostly measures the neighbours), one torch thread.

    .venv-backend/bin/python benchmarks/bench_sdf_views.py [--objects 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch

from latentdreamer.geometry.flexicubes import flexicubes
from latentdreamer.geometry.random_shapes import random_sdf
from latentdreamer.render.cameras import prior_cameras
from latentdreamer.render.sdf_views import sdf_views
from latentdreamer.render.views import render_views


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def measure(method: str, seed: int, resolution: int, size: int, repeats: int) -> dict:
    cams = prior_cameras()
    sdf = torch.from_numpy(random_sdf(seed, resolution))
    if method == "traced":
        wall, cpu = timed(lambda: sdf_views(sdf[None], cams, size), repeats)
        return {"wall": wall, "cpu": cpu}

    def baseline() -> None:
        mesh = flexicubes(sdf).to_mesh()
        render_views(torch.from_numpy(mesh.vertices), torch.from_numpy(mesh.faces), cams, size)

    wall, cpu = timed(baseline, repeats)
    return {"wall": wall, "cpu": cpu, "faces": len(flexicubes(sdf).to_mesh().faces)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resolution", type=int, default=64, help="SDF grid side")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--_one", nargs=2, metavar=("METHOD", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args._one:
        print(json.dumps(measure(args._one[0], int(args._one[1]), args.resolution, args.size, args.repeats)))
        return

    def run(method: str, seed: int) -> dict:
        cmd = [
            sys.executable,
            __file__,
            "--_one",
            method,
            str(seed),
            *(f"--{k}={getattr(args, k)}" for k in ("repeats", "resolution", "size", "threads")),
        ]
        return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])

    print(f"six views of {args.size} px from {args.resolution}^3 random SDFs, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'object':>8} {'faces':>7} {'mesh+raster wall/cpu s':>24} {'traced wall/cpu s':>19} {'cpu ratio':>9}")
    ratios = []
    for seed in range(args.objects):
        b, t = run("baseline", seed), run("traced", seed)
        ratios.append(b["cpu"] / t["cpu"])
        print(
            f"{seed:>8} {b['faces']:>7} {b['wall']:>11.3f} / {b['cpu']:<10.3f} {t['wall']:>8.3f} / {t['cpu']:<8.3f} {ratios[-1]:>8.1f}x"
        )
    print(f"median CPU-time speed-up of tracing: {statistics.median(ratios):.1f}x")


if __name__ == "__main__":
    main()
