"""FlexiCubes speed: surface-cube extraction against the same algorithm over every cube.

    .venv-backend/bin/python benchmarks/bench_flexicubes.py [--repeats 7] [--threads N] [--device cpu]

For a sphere (radius 0.4) at 32^3, 64^3 and 128^3 cubes: forward (inference, two triangles per
quad, default weights) and forward + backward (training, four triangles per quad, backward of
a scalar loss of the vertices to the SDF, alpha, beta, gamma and the deformation). Baseline in
the same process: `_dense=True`, which runs the identical code on all cubes, i.e. the cost of
an implementation that does not skip empty space (docs/design.md quotes the public reference at
~0.035 / 0.15 / 0.70 s forward on 2 cores). Medians of --repeats runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from latentdreamer.geometry.flexicubes import flexicubes
from latentdreamer.geometry.grid import grid_points


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn, repeats: int, device: torch.device) -> float:
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64, 128])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}")
    header = f"{'cubes':>6} {'tris fwd':>9} {'tris train':>10} | {'fwd ms':>8} {'dense':>8} {'x':>6} | {'fwd+bwd ms':>10} {'dense':>8} {'x':>6}"
    print(header)
    for r in args.resolutions:
        n = r + 1
        sdf = torch.from_numpy(grid_points(n)).to(device).norm(dim=-1) - 0.4
        gen = torch.Generator().manual_seed(0)
        raw = {
            "beta_raw": 0.1 * torch.randn(r**3, 12, generator=gen),
            "alpha_raw": 0.1 * torch.randn(r**3, 8, generator=gen),
            "gamma_raw": 0.1 * torch.randn(r**3, generator=gen),
            "deform_raw": 0.1 * torch.randn(n, n, n, 3, generator=gen),
        }
        leaves = {"sdf": sdf.clone(), **{k: v.to(device) for k, v in raw.items()}}
        for v in leaves.values():
            v.requires_grad_(True)

        def forward(dense: bool) -> torch.Tensor:
            with torch.no_grad():
                return flexicubes(sdf, _dense=dense).faces

        def forward_backward(dense: bool) -> torch.Tensor:
            mesh = flexicubes(**leaves, training=True, _dense=dense)
            loss = (mesh.vertices**2).sum()
            loss.backward()
            for v in leaves.values():
                v.grad = None
            return mesh.faces

        tris_fwd, tris_train = len(forward(False)), len(flexicubes(sdf, training=True).faces)
        reps_dense = max(3, args.repeats // 2) if r >= 128 else args.repeats
        f = median_seconds(lambda: forward(False), args.repeats, device)
        fd = median_seconds(lambda: forward(True), reps_dense, device)
        b = median_seconds(lambda: forward_backward(False), args.repeats, device)
        bd = median_seconds(lambda: forward_backward(True), reps_dense, device)
        print(
            f"{r:>5}^3 {tris_fwd:>9} {tris_train:>10} | {f * 1e3:>8.1f} {fd * 1e3:>8.1f} {fd / f:>5.1f}x"
            f" | {b * 1e3:>10.1f} {bd * 1e3:>8.1f} {bd / b:>5.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
