"""The SAE's 3x3x3 convolutions on one sample, as nine matrix products on the padded volume.

Why: the coarse stage runs the decoder trunk forward and backward on one latent at every
step, and on a CPU torch's kernel for one sample (`slow_conv3d`) spends most of its time
unfolding the input into 27 columns per sample. Here only the three offsets along the last
axis are unfolded (a 3x copy); flattened, the zero-padded volume then turns each of the nine
(depth, height) offsets into a plain shift along the flat axis, so the convolution is nine
products (out channels x 3 in channels) @ (3 in channels x a contiguous slice), accumulated
in place; the outputs that fall in the height padding are computed and dropped.
The input gradient of a stride-1, padding-1 convolution is itself such a convolution of the
output gradient, with the kernel flipped and its channels swapped, so the backward is the
same routine. Measured on one core by benchmarks/bench_sae_trunk.py (its figures are in the
README). Values match `F.conv3d` to float rounding.

Batches, trained weights and other devices keep `F.conv3d`: torch's kernel is the faster
one on a batch, it gives the weight gradient, and cuDNN serves a GPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def shifted_products(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Zero-padded 3x3x3 convolution of one (C,D,H,W) volume by (O,C,3,3,3) -> (O,D,H,W)."""
    c, d, h, w = x.shape
    hp = h + 2
    padded = F.pad(x, (1, 1, 1, 1, 1, 1))
    s = padded.stride()
    # The W offsets unfolded (3C rows: a 3x copy of a small volume), D and H left to shifts.
    rows = padded.as_strided((c, 3, d + 2, hp, w), (s[0], s[3], s[1], s[2], s[3])).reshape(3 * c, -1)
    # Output (a, b, e) sits at flat position (a*hp + b)*w + e; the last one needed:
    length = ((d - 1) * hp + h - 1) * w + w
    acc = torch.zeros(weight.shape[0], length, dtype=x.dtype, device=x.device)
    if bias is not None:
        acc += bias[:, None]
    taps = weight.permute(2, 3, 0, 1, 4).reshape(3, 3, weight.shape[0], 3 * c).contiguous()  # (i, j, O, C*k)
    for i in range(3):
        for j in range(3):
            start = (i * hp + j) * w
            acc.addmm_(taps[i, j], rows[:, start : start + length])
    return F.pad(acc, (0, d * hp * w - length)).reshape(-1, d, hp, w)[:, :, :h]


class _ShiftedConv(torch.autograd.Function):
    """The convolution with its input gradient by the same routine (weights fixed)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:  # noqa: ANN001
        ctx.save_for_backward(weight)
        return shifted_products(x[0], weight, bias)[None].contiguous()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: ANN001
        (weight,) = ctx.saved_tensors
        flipped = weight.flip(2, 3, 4).transpose(0, 1)
        return shifted_products(grad[0], flipped, None)[None].contiguous(), None, None


class SameConv3d(nn.Conv3d):
    """A 3x3x3, stride-1, zero-padded convolution: nn.Conv3d's parameters and state-dict keys
    (saved weights load unchanged), run by `shifted_products` for one sample on the CPU with
    fixed weights."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trains = torch.is_grad_enabled() and self.weight.requires_grad
        if x.device.type != "cpu" or x.dim() != 5 or x.shape[0] != 1 or trains:
            return super().forward(x)
        return _ShiftedConv.apply(x, self.weight, self.bias)
