"""SAE decode speed: latent -> SDF grid, forward and forward + backward to the latent.

The generation pipeline decodes hundreds of times, always with a gradient to the latent, so
both are measured. Baselines in the same process: the plain dense conv decoder (same trunk,
then convolutions up to the full grid), the design the point decoder replaces, and the point
decoder evaluated at every grid vertex (`exact=True`) instead of coarse to fine. The point
decoder runs with trained weights on the latent of an unseen random shape, since how many
points coarse-to-fine decoding evaluates depends on the surface. Medians of --repeats runs,
one torch thread by default (the shared 2-core machines; see SAETrainConfig).

    .venv-backend/bin/python benchmarks/bench_sae_decoder.py [--weights W | --checkpoint RUN]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from latentdreamer.geometry.random_shapes import random_sdf
from latentdreamer.models.sae import SAE, count_parameters
from latentdreamer.models.trained_sae import encode_sdf, load_sae, load_sae_checkpoint
from latentdreamer.train.sae import EVAL_SEED_BASE


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (allocator, oneDNN primitive cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(model: SAE, z0: torch.Tensor, n: int, repeats: int, exact: bool = False) -> tuple[float, float]:
    def forward() -> None:
        with torch.no_grad():
            model.decode_grid(z0, n, exact=exact)

    def backward() -> None:
        z = z0.clone().requires_grad_(True)
        model.decode_grid(z, n, exact=exact).square().sum().backward()

    for p in model.parameters():
        p.requires_grad_(False)  # the pipeline optimises the latent only
    return timed(forward, repeats), timed(backward, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=None, help="SAE weights (default: the shipped ones)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="or a training run directory")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    points = load_sae_checkpoint(args.checkpoint) if args.checkpoint else load_sae(args.weights)
    cfg = points.config
    z0 = encode_sdf(points, random_sdf(EVAL_SEED_BASE, cfg.resolution))
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), medians of {args.repeats}; "
        f"point decoder {count_parameters(points)} parameters"
    )
    print("| grid | decoder | forward (s) | fwd+bwd to latent (s) | fwd speed-up | fwd+bwd speed-up |")
    print("|---|---|---|---|---|---|")
    for res in (32, 64):
        dense = SAE(replace(cfg, decoder="dense", resolution=res)).eval()
        d_f, d_b = measure(dense, z0, res, args.repeats)
        print(f"| {res}^3 | dense conv (baseline) | {d_f:.3f} | {d_b:.3f} | 1.00x | 1.00x |")
        rows = (
            [("points, every vertex", True), ("points, coarse to fine (shipped)", False)]
            if res > 40
            else [("points (shipped)", True)]
        )
        for label, exact in rows:
            p_f, p_b = measure(points, z0, res, args.repeats, exact)
            print(f"| {res}^3 | {label} | {p_f:.3f} | {p_b:.3f} | {d_f / p_f:.2f}x | {d_b / p_b:.2f}x |")
    for label, exact in (("points, every vertex", True), ("points, coarse to fine (shipped)", False)):
        p_f, p_b = measure(points, z0, 128, max(1, args.repeats // 2), exact)
        print(f"| 128^3 | {label} | {p_f:.3f} | {p_b:.3f} | - | - |")


if __name__ == "__main__":
    main()
