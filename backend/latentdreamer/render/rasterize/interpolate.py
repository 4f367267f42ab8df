"""Barycentric attribute interpolation over a rasteriser buffer (nvdiffrast's `interpolate`)."""

from __future__ import annotations

import torch

from latentdreamer.render.rasterize.numba_interpolate import interpolate_numba
from latentdreamer.render.rasterize.pixels import covered_pixels


def interpolate(attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """Per-vertex attributes (V, C) or (B, V, C) to pixels (B, H, W, C), zero where empty.

    Differentiable in attr and in rast's u, v (hence in the clip positions that made rast).
    Unlike nvdiffrast this returns only the image, not screen-space derivatives.
    CPU tensors take the compiled pass (first-order gradients only); others `interpolate_torch`.
    """
    if attr.device.type == "cpu" and rast.device.type == "cpu":
        return interpolate_numba(attr, rast, tri)
    return interpolate_torch(attr, rast, tri)


def interpolate_torch(attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """The reference: gathers and autograd in torch, on any device and to any order."""
    views, height, width, _ = rast.shape
    channels = attr.shape[-1]
    pixel, face = covered_pixels(rast)
    corners = tri.long().index_select(0, face)  # (N, 3)
    if attr.dim() == 3:
        b = torch.div(pixel, height * width, rounding_mode="floor")
        corners = corners + (b * attr.shape[1]).unsqueeze(1)
        attr = attr.expand(views, -1, -1)
    a = attr.reshape(-1, channels).index_select(0, corners.reshape(-1)).view(-1, 3, channels)
    uv = rast.reshape(-1, 4).index_select(0, pixel)[:, :2].to(attr.dtype)
    u, v = uv[:, :1], uv[:, 1:]
    values = u * a[:, 0] + v * a[:, 1] + (1.0 - u - v) * a[:, 2]
    out = attr.new_zeros(views * height * width, channels).index_copy(0, pixel, values)
    return out.view(views, height, width, channels)
