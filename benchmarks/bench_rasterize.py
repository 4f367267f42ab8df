"""Rasteriser speed: an 82k-face sphere into the six prior views at 320x320, per stage.

    .venv-backend/bin/python benchmarks/bench_rasterize.py [--repeats 7] [--threads N] [--radius 0.4]

Stages: rasterize, interpolate (vertex normals), antialias, each without autograd;
forward = to_clip + the three stages; step = forward plus the backward of a scalar image
loss to the vertex positions. The default CPU path (numba visibility pass, compiled
barycentrics, interpolate and antialias with written-out backwards) is compared with the
pure-torch path (torch visibility pass, `rast_from_ids`, `interpolate_torch`,
`antialias_torch`) in the same process. Medians of --repeats runs (fewer for the slow torch
path) after a warm-up that also loads numba's cache; wall time and process CPU time (summed
over threads; the steadier figure when other jobs share the cores) are both printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numba
import torch
import trimesh

from latentdreamer.render.cameras import prior_cameras, to_clip
from latentdreamer.render.rasterize import antialias, interpolate, rasterize
from latentdreamer.render.rasterize.antialias import antialias_torch
from latentdreamer.render.rasterize.interpolate import interpolate_torch


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall time and median process CPU time of fn() after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch and numba threads (default: their own)")
    parser.add_argument("--radius", type=float, default=0.4)
    parser.add_argument("--resolution", type=int, default=320)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)

    sphere = trimesh.creation.icosphere(subdivisions=6, radius=args.radius)
    verts = torch.tensor(sphere.vertices, dtype=torch.float32)
    tri = torch.tensor(sphere.faces, dtype=torch.int32)
    normals = torch.nn.functional.normalize(verts, dim=-1)
    cams = prior_cameras()
    res = (args.resolution, args.resolution)
    paths = {
        "numba": (lambda p: rasterize(p, tri, res, backend="numba"), interpolate, antialias),
        "torch": (lambda p: rasterize(p, tri, res, backend="torch"), interpolate_torch, antialias_torch),
    }

    def forward(v: torch.Tensor, path: str) -> torch.Tensor:
        rast_fn, interp_fn, aa_fn = paths[path]
        pos = to_clip(v, cams)
        rast = rast_fn(pos)
        return aa_fn(interp_fn(normals, rast, tri), rast, pos, tri)

    def step(path: str) -> None:
        v = verts.clone().requires_grad_(True)
        forward(v, path).square().mean().backward()

    pos = to_clip(verts, cams)
    with torch.no_grad():
        coverage = (rasterize(pos, tri, res)[..., 3] > 0).float().mean().item()
    print(
        f"{len(tri)} faces, {len(cams)} views at {res[0]}x{res[1]}, coverage {coverage:.0%}, "
        f"torch threads {torch.get_num_threads()}, numba threads {numba.get_num_threads()}"
    )
    results: dict[str, dict[str, tuple[float, float]]] = {}
    for path, repeats in (("numba", args.repeats), ("torch", max(3, args.repeats // 2))):
        rast_fn, interp_fn, aa_fn = paths[path]
        with torch.no_grad():
            rast = rast_fn(pos)
            color = interp_fn(normals, rast, tri)
            results[path] = {
                "rasterize": median_seconds(lambda: rast_fn(pos), repeats),
                "interpolate": median_seconds(lambda: interp_fn(normals, rast, tri), repeats),
                "antialias": median_seconds(lambda: aa_fn(color, rast, pos, tri), repeats),
                "forward": median_seconds(lambda: forward(verts, path), repeats),
            }
        results[path]["forward+backward"] = median_seconds(lambda: step(path), repeats)
    print(f"{'stage':>16} | {'numba wall':>10} {'CPU':>8} | {'torch wall':>10} {'CPU':>8} | torch/numba wall, CPU")
    for stage, (wall, cpu) in results["numba"].items():
        base_wall, base_cpu = results["torch"][stage]
        print(
            f"{stage:>16} | {wall * 1e3:7.1f} ms {cpu * 1e3:5.1f} ms | {base_wall * 1e3:7.1f} ms {base_cpu * 1e3:5.0f} ms "
            f"| x{base_wall / wall:.1f}, x{base_cpu / cpu:.1f}"
        )


if __name__ == "__main__":
    main()
