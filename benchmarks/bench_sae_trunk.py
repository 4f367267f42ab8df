"""The SAE decoder trunk forward + backward on one latent, as the coarse stage runs it: torch's
own 3x3x3 convolution against models/conv3d.py's shifted products, in one process.

    .venv-backend/bin/python benchmarks/bench_sae_trunk.py [--threads 1] [--repeats 20] [--rounds 7]

Per variant and per layer shape, the median over --rounds rounds (the variants interleaved
within each round) of the mean of --repeats forward + backward passes (the latent requires grad, the weights are fixed, as in
optimise/shape_field.py), then the ratio baseline / new. The baseline is the same network
with every SameConv3d run by nn.Conv3d's forward.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable


def mean_ms(fn: Callable[[], None], repeats: int) -> float:
    """Mean time of `repeats` calls after two warm-up calls, in milliseconds."""
    for _ in range(2):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from latentdreamer.threads import apply, configure_process

    apply(configure_process(args.threads))
    import torch
    from torch import nn

    from latentdreamer.models.conv3d import SameConv3d
    from latentdreamer.models.sae import SAE, SAEConfig

    torch.manual_seed(0)
    sae = SAE(SAEConfig()).eval().requires_grad_(False)
    z = torch.randn(1, *sae.config.latent_shape, requires_grad=True)
    print(f"threads {torch.get_num_threads()}; SAE {sae.config.decoder_channels} channels; latent {tuple(z.shape)}")

    def trunk_step() -> None:
        features = sae.trunk(z)
        (features.square().mean()).backward()

    def layer_step(conv: nn.Module, x: torch.Tensor) -> Callable[[], None]:
        return lambda: conv(x).square().mean().backward()

    shapes = {}
    for module in sae.trunk.modules():
        if isinstance(module, SameConv3d):
            shapes.setdefault(module.in_channels, module)
    sides = {sae.config.decoder_channels[0]: sae.config.latent_size, sae.config.decoder_channels[1]: 2 * sae.config.latent_size}
    cases = {"trunk": trunk_step}
    for channels, module in shapes.items():
        x = torch.randn(1, channels, *(sides[channels],) * 3, requires_grad=True)
        cases[f"conv {channels} ch at {sides[channels]}^3"] = layer_step(module, x)
    own = SameConv3d.forward
    variants = {"torch": nn.Conv3d.forward, "shifted": own}  # the baseline: torch's own kernel
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):  # rounds interleave the variants, so a change of load hits both
        for variant, forward in variants.items():
            SameConv3d.forward = forward
            for case, fn in cases.items():
                times.setdefault((case, variant), []).append(mean_ms(fn, args.repeats))
    SameConv3d.forward = own
    for case in cases:
        old, new = (statistics.median(times[case, v]) for v in variants)
        print(f"{case:>22}: torch {old:6.2f} ms, shifted {new:6.2f} ms, ratio {old / new:.2f}x")


if __name__ == "__main__":
    main()
