"""SAE decode speed: latent -> SDF grid, forward and forward + backward to the latent.

The generation pipeline decodes hundreds of times, always with a gradient to the latent, so
both are measured. Baseline in the same process: the plain dense conv decoder (same trunk,
then convolutions up to the full grid), the design the point decoder replaces. Medians of
--repeats runs, one torch thread by default (the shared 2-core machines; see SAETrainConfig).

    .venv-backend/bin/python benchmarks/bench_sae_decoder.py [--config configs/sae/sae64.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from latentdreamer.models.sae import SAE, SAEConfig, count_parameters


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (allocator, oneDNN primitive cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(model: SAE, n: int, repeats: int) -> tuple[float, float]:
    z0 = torch.randn(1, *model.config.latent_shape)

    def forward() -> None:
        with torch.no_grad():
            model.decode_grid(z0, n)

    def backward() -> None:
        z = z0.clone().requires_grad_(True)
        model.decode_grid(z, n).square().sum().backward()

    for p in model.parameters():
        p.requires_grad_(False)  # the pipeline optimises the latent only
    return timed(forward, repeats), timed(backward, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=Path("configs/sae/sae64.json"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = SAEConfig.from_dict(json.loads(args.config.read_text())["model"])
    torch.manual_seed(0)
    points = SAE(replace(cfg, decoder="points")).eval()
    print(f"torch {torch.__version__}, {args.threads} thread(s), medians of {args.repeats}; "
          f"point decoder {count_parameters(points)} parameters")
    print("| grid | decoder | forward (s) | fwd+bwd to latent (s) | fwd speed-up | fwd+bwd speed-up |")
    print("|---|---|---|---|---|---|")
    for res in (32, 64):
        dense = SAE(replace(cfg, decoder="dense", resolution=res)).eval()
        d_f, d_b = measure(dense, res, args.repeats)
        p_f, p_b = measure(points, res, args.repeats)
        print(f"| {res}^3 | dense conv (baseline) | {d_f:.3f} | {d_b:.3f} | 1.00x | 1.00x |")
        print(f"| {res}^3 | points (shipped) | {p_f:.3f} | {p_b:.3f} | {d_f / p_f:.2f}x | {d_b / p_b:.2f}x |")
    p_f, p_b = measure(points, 128, max(1, args.repeats // 2))
    print(f"| 128^3 | points (no dense counterpart) | {p_f:.3f} | {p_b:.3f} | - | - |")


if __name__ == "__main__":
    main()
