"""Attribute interpolation for CPU tensors in one compiled pass over the buffer.

The torch version (`interpolate.py`, the reference) gathers three attribute rows per
covered pixel into temporaries and builds an autograd graph over them; here each pixel is
read and written once, and the backward is written out: d out / d attr_i = b_i and
d out / d u = attr_0 - attr_2, d out / d v = attr_1 - attr_2 (b_2 = 1 - u - v).
Arithmetic is float64, stored in the attributes' dtype.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from latentdreamer.render.rasterize.numba_support import face_array, float_array, threads_for


@numba.njit(parallel=True, cache=True)
def _forward(attr: np.ndarray, rast: np.ndarray, tri: np.ndarray, out: np.ndarray) -> None:
    """out (B, H, W, C) zero-initialised; attr (1 or B, V, C) (one set shared by all views, or one per view)."""
    views, height, width, channels = out.shape
    view_step = 0 if attr.shape[0] == 1 else 1  # shared attributes: always read view 0
    for row in numba.prange(views * height):
        b = row // height
        y = row - b * height
        a = b * view_step
        for x in range(width):
            f = int(rast[b, y, x, 3]) - 1
            if f < 0:
                continue
            u = np.float64(rast[b, y, x, 0])
            v = np.float64(rast[b, y, x, 1])
            i0, i1, i2 = tri[f, 0], tri[f, 1], tri[f, 2]
            for c in range(channels):
                out[b, y, x, c] = u * attr[a, i0, c] + v * attr[a, i1, c] + (1.0 - u - v) * attr[a, i2, c]


@numba.njit(parallel=True, cache=True)
def _backward(
    attr: np.ndarray, rast: np.ndarray, tri: np.ndarray, grad: np.ndarray, need_attr: bool, need_rast: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients for attr, per view (B, V, C) float64 (summed over views by the caller when
    shared), and for rast (B, H, W, 4) in rast's dtype; one task per view owns its rows of both."""
    views, height, width, channels = grad.shape
    view_step = 0 if attr.shape[0] == 1 else 1  # shared attributes: always read view 0
    grad_attr = np.zeros((views if need_attr else 0, attr.shape[1], channels))
    kept = views if need_rast else 0
    grad_rast = np.zeros((kept, height, width, 4), dtype=rast.dtype)
    for b in numba.prange(views):
        a = b * view_step
        for y in range(height):
            for x in range(width):
                f = int(rast[b, y, x, 3]) - 1
                if f < 0:
                    continue
                i0, i1, i2 = tri[f, 0], tri[f, 1], tri[f, 2]
                if need_attr:
                    u = np.float64(rast[b, y, x, 0])
                    v = np.float64(rast[b, y, x, 1])
                    w = 1.0 - u - v
                    for c in range(channels):
                        g = np.float64(grad[b, y, x, c])
                        grad_attr[b, i0, c] += u * g
                        grad_attr[b, i1, c] += v * g
                        grad_attr[b, i2, c] += w * g
                if need_rast:
                    gu = 0.0
                    gv = 0.0
                    for c in range(channels):
                        g = np.float64(grad[b, y, x, c])
                        a2 = np.float64(attr[a, i2, c])
                        gu += g * (attr[a, i0, c] - a2)
                        gv += g * (attr[a, i1, c] - a2)
                    grad_rast[b, y, x, 0] = gu
                    grad_rast[b, y, x, 1] = gv
    return grad_attr, grad_rast


class _InterpolateCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
        attr_np = float_array(attr if attr.dim() == 3 else attr.unsqueeze(0))
        rast_np = float_array(rast)
        tri_np = face_array(tri)
        out = np.zeros((*rast.shape[:3], attr.shape[-1]), dtype=attr_np.dtype)
        with threads_for(out.size):
            _forward(attr_np, rast_np, tri_np, out)
        ctx.arrays = (attr_np, rast_np, tri_np)
        ctx.attr_meta = (attr.dtype, attr.dim(), attr.shape[0])
        ctx.rast_dtype = rast.dtype
        return torch.from_numpy(out).to(attr.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        attr_np, rast_np, tri_np = ctx.arrays
        need_attr, need_rast = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        with threads_for(grad.numel()):
            grad_attr, grad_rast = _backward(attr_np, rast_np, tri_np, float_array(grad), need_attr, need_rast)
        dtype, dim, first = ctx.attr_meta
        attr_grad = rast_grad = None
        if need_attr:
            g = torch.from_numpy(grad_attr)
            if dim == 2:
                g = g.sum(0)
            elif first == 1:  # one set of attributes broadcast over the views
                g = g.sum(0, keepdim=True)
            attr_grad = g.to(dtype)
        if need_rast:
            rast_grad = torch.from_numpy(grad_rast).to(ctx.rast_dtype)
        return attr_grad, rast_grad, None


def interpolate_numba(attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """`interpolate` for CPU tensors; differentiable in attr and rast's u, v (first order)."""
    return _InterpolateCPU.apply(attr, rast, tri)
