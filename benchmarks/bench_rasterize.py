"""Rasteriser speed: an 82k-face sphere into the six prior views at 320x320.

    .venv-backend/bin/python benchmarks/bench_rasterize.py [--repeats 7] [--threads N] [--radius 0.4]

Forward = rasterize + interpolate vertex normals + antialias; step = forward plus the
backward of a scalar image loss to the vertex positions (through to_clip). The default
backend (numba on the CPU) is compared with the pure-torch forward pass in the same process
(same barycentric, interpolate and antialias code; only the visibility pass differs).
Medians of --repeats runs after a warm-up (which also compiles or loads numba's cache);
wall time and process CPU time are both printed (CPU time sums over threads).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import torch
import trimesh

from latentdreamer.render.cameras import prior_cameras, to_clip
from latentdreamer.render.rasterize import antialias, interpolate, rasterize


def median_seconds(fn, repeats: int) -> tuple[float, float]:
    """Median wall time and median process CPU time (the latter barely moves when other
    jobs share the cores, so it is the steadier figure on a busy machine)."""
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
    parser.add_argument("--threads", type=int, default=None)
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

    def forward(v: torch.Tensor, backend: str) -> torch.Tensor:
        pos = to_clip(v, cams)
        rast = rasterize(pos, tri, res, backend=backend)
        return antialias(interpolate(normals, rast, tri), rast, pos, tri)

    def step(backend: str) -> None:
        v = verts.clone().requires_grad_(True)
        forward(v, backend).square().mean().backward()

    with torch.no_grad():
        coverage = (rasterize(to_clip(verts, cams), tri, res)[..., 3] > 0).float().mean().item()
    print(
        f"{len(tri)} faces, {len(cams)} views at {res[0]}x{res[1]}, coverage {coverage:.0%}, "
        f"torch threads {torch.get_num_threads()}, numba threads {numba.get_num_threads()}"
    )
    rows = []
    for backend, repeats in (("numba", args.repeats), ("torch", max(3, args.repeats // 2))):
        with torch.no_grad():
            fwd = median_seconds(lambda: forward(verts, backend), repeats)
        full = median_seconds(lambda: step(backend), repeats)
        rows.append((backend, fwd, full))
        print(
            f"{backend:>6}: forward {fwd[0] * 1e3:8.1f} ms wall ({fwd[1] * 1e3:8.1f} ms CPU)   "
            f"forward+backward {full[0] * 1e3:8.1f} ms wall ({full[1] * 1e3:8.1f} ms CPU)"
        )
    (_, f0, s0), (_, f1, s1) = rows
    print(f"speed-up numba vs torch (wall): forward x{f1[0] / f0[0]:.1f}, step x{s1[0] / s0[0]:.1f}")


if __name__ == "__main__":
    main()
