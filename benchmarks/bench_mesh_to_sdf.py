"""Mesh -> 64^3 SDF time for every eval mesh, against brute-force winding numbers.

Ours: mesh_to_sdf (Barnes-Hut winding numbers for the sign, exact distances in a band).
Baseline, same process: the sign by the direct sum of every triangle's solid angle at every
grid sample (what the tree approximates), timed on a random subset of samples and
extrapolated linearly to the whole grid (the cost is exactly points x triangles); the
band distances, which both need, are not added to the baseline, so the ratio is a lower
bound. Also printed: agreement of the inside test on the subset, and (with --quality) the
representation bound at this resolution: the docs/design.md §7 scores of the FlexiCubes mesh of
our SDF against the original mesh.

Run: .venv-backend/bin/python benchmarks/bench_mesh_to_sdf.py [--resolution 64] [--subset 1000] [--quality]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

from latentdreamer.geometry.flexicubes import flexicubes
from latentdreamer.geometry.grid import grid_points
from latentdreamer.geometry.mesh_to_sdf import mesh_to_sdf
from latentdreamer.geometry.normalise import fit_in_sphere
from latentdreamer.geometry.winding_number import exact_winding_numbers
from latentdreamer.io.eval_meshes import default_eval_root, find_eval_meshes, load_eval_mesh
from latentdreamer.metrics.geometry import evaluate_geometry


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--subset", type=int, default=1000, help="grid samples timed for the baseline")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quality", action="store_true", help="also score FlexiCubes(SDF) against the mesh")
    args = parser.parse_args()
    root = default_eval_root()
    if not root.is_dir():
        print(f"eval meshes not found at {root}; nothing to measure")
        return 0
    n = args.resolution
    points = grid_points(n).reshape(-1, 3)
    rng = np.random.default_rng(0)
    print(f"{'mesh':<16} {'faces':>7} {'ours s':>8} {'brute-force s (extrap.)':>24} {'ratio':>8} {'sign agree':>10}")
    ratios, ours_all, quality = [], [], []
    for i, entry in enumerate(find_eval_meshes(root)):
        mesh = fit_in_sphere(load_eval_mesh(entry))
        if i == 0:
            mesh_to_sdf(mesh.vertices, mesh.faces, 16)  # compile outside the timings
            exact_winding_numbers(mesh.vertices, mesh.faces, points[:8])
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            sdf = mesh_to_sdf(mesh.vertices, mesh.faces, n)
            runs.append(time.perf_counter() - start)
        ours = statistics.median(runs)
        subset = rng.choice(len(points), args.subset, replace=False)
        start = time.perf_counter()
        w = exact_winding_numbers(mesh.vertices, mesh.faces, points[subset])
        base = (time.perf_counter() - start) * len(points) / args.subset
        agree = np.mean((np.abs(w) > 0.5) == (sdf.reshape(-1)[subset] < 0))
        ratios.append(base / ours)
        ours_all.append(ours)
        line = f"{entry.name:<16} {mesh.num_faces:>7} {ours:>8.2f} {base:>24.1f} {base / ours:>7.0f}x {agree:>10.4f}"
        if args.quality:
            scores = evaluate_geometry(flexicubes(torch.from_numpy(sdf)).to_mesh(), mesh)
            quality.append(scores)
            line += f"  IoU {scores.volume_iou:.3f} CD {scores.chamfer:.4f} F@0.02 {scores.f_score_002:.3f}"
        print(line)
    if quality:
        print(f"mean round-trip volume IoU at {n}^3: {np.mean([q.volume_iou for q in quality]):.3f}")
    print(
        f"median: ours {statistics.median(ours_all):.2f} s per mesh at {n}^3, {statistics.median(ratios):.0f}x faster than brute force"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
