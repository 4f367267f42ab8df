"""The differentiable buffer on the CPU: u, v, z/w filled in by compiled kernels, with an
analytic backward, instead of the torch rebuild's gather-heavy autograd graph.

Same quantities as `barycentrics.py` (the reference, used on other devices): with clip
vertices q_i = (x_i, y_i, w_i) and the pixel centre p = (px, py, 1), E_i = (q_j x q_k) . p
and b_i = E_i / sum(E). Its derivatives are cross products again: dE_i/dq_j = q_k x p and
dE_i/dq_k = p x q_j, so the backward needs n_i = q_i x p per covered pixel and nothing else.
z/w = sum(b z) / sum(b w) is differentiable too, as in the reference.

Everything is evaluated in float64 and stored in pos's dtype. The backward runs one task
per view (each owns its slice of the position gradient, so no two threads add to the same
vertex).
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from latentdreamer.render.rasterize.numba_forward import pixel_centres, triangle_ids_numpy
from latentdreamer.render.rasterize.numba_support import float_array, threads_for


@numba.njit(parallel=True, cache=True)
def _fill(pos: np.ndarray, tri: np.ndarray, ids: np.ndarray, rast: np.ndarray) -> None:
    """rast (B, H, W, 4) zero-initialised <- (u, v, z/w, id + 1) at covered pixels."""
    views, height, width = ids.shape
    xs, ys = pixel_centres(width), pixel_centres(height)
    for row in numba.prange(views * height):
        b = row // height
        y = row - b * height
        py = ys[y]
        last = -1  # neighbours mostly share a triangle: its coefficients are set up once per run
        ax0 = ay0 = a0 = ax1 = ay1 = a1 = ax2 = ay2 = a2 = 0.0
        z0 = z1 = z2 = w0 = w1 = w2 = 0.0
        for x in range(width):
            f = ids[b, y, x]
            if f < 0:
                continue
            if f != last:
                last = f
                i0, i1, i2 = tri[f, 0], tri[f, 1], tri[f, 2]
                x0, y0 = np.float64(pos[b, i0, 0]), np.float64(pos[b, i0, 1])
                z0, w0 = np.float64(pos[b, i0, 2]), np.float64(pos[b, i0, 3])
                x1, y1 = np.float64(pos[b, i1, 0]), np.float64(pos[b, i1, 1])
                z1, w1 = np.float64(pos[b, i1, 2]), np.float64(pos[b, i1, 3])
                x2, y2 = np.float64(pos[b, i2, 0]), np.float64(pos[b, i2, 1])
                z2, w2 = np.float64(pos[b, i2, 2]), np.float64(pos[b, i2, 3])
                ax0, ay0, a0 = y1 * w2 - w1 * y2, w1 * x2 - x1 * w2, x1 * y2 - y1 * x2
                ax1, ay1, a1 = y2 * w0 - w2 * y0, w2 * x0 - x2 * w0, x2 * y0 - y2 * x0
                ax2, ay2, a2 = y0 * w1 - w0 * y1, w0 * x1 - x0 * w1, x0 * y1 - y0 * x1
            px = xs[x]
            e0 = px * ax0 + py * ay0 + a0
            e1 = px * ax1 + py * ay1 + a1
            e2 = px * ax2 + py * ay2 + a2
            s = e0 + e1 + e2
            b0, b1, b2 = e0 / s, e1 / s, e2 / s
            rast[b, y, x, 0] = b0
            rast[b, y, x, 1] = b1
            rast[b, y, x, 2] = (b0 * z0 + b1 * z1 + b2 * z2) / (b0 * w0 + b1 * w1 + b2 * w2)
            rast[b, y, x, 3] = f + 1


@numba.njit(parallel=True, cache=True)
def _backward(pos: np.ndarray, tri: np.ndarray, ids: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Gradient (B, V, 4) float64 of sum(grad * rast[..., :3]) with respect to pos."""
    views, height, width = ids.shape
    xs, ys = pixel_centres(width), pixel_centres(height)
    out = np.zeros((views, pos.shape[1], 4))
    for b in numba.prange(views):
        q = np.empty((3, 4))
        n = np.empty((3, 3))
        ge = np.empty(3)
        gb = np.empty(3)
        bary = np.empty(3)
        for y in range(height):
            py = ys[y]
            for x in range(width):
                f = ids[b, y, x]
                if f < 0:
                    continue
                gu, gv, gd = grad[b, y, x, 0], grad[b, y, x, 1], grad[b, y, x, 2]
                if gu == 0.0 and gv == 0.0 and gd == 0.0:
                    continue
                px = xs[x]
                for i in range(3):
                    for c in range(4):
                        q[i, c] = pos[b, tri[f, i], c]
                    # n_i = q_i x p on (x, y, w)
                    n[i, 0] = q[i, 1] - q[i, 3] * py
                    n[i, 1] = q[i, 3] * px - q[i, 0]
                    n[i, 2] = q[i, 0] * py - q[i, 1] * px
                s = 0.0
                for i in range(3):
                    j, k = (i + 1) % 3, (i + 2) % 3
                    # E_i = (q_j x q_k) . p = q_j . n_k
                    ge[i] = q[j, 0] * n[k, 0] + q[j, 1] * n[k, 1] + q[j, 3] * n[k, 2]
                    s += ge[i]
                num = 0.0
                den = 0.0
                for i in range(3):
                    bary[i] = ge[i] / s
                    num += bary[i] * q[i, 2]
                    den += bary[i] * q[i, 3]
                depth = num / den
                gb[0], gb[1], gb[2] = gu, gv, 0.0
                dot = 0.0
                for i in range(3):
                    gb[i] += gd * (q[i, 2] - depth * q[i, 3]) / den
                    dot += gb[i] * bary[i]
                for i in range(3):
                    ge[i] = (gb[i] - dot) / s
                for i in range(3):
                    j, k = (i + 1) % 3, (i + 2) % 3
                    # E_j = -q_i . n_k and E_k = q_i . n_j are the two that hold q_i.
                    v = tri[f, i]
                    out[b, v, 0] += ge[k] * n[j, 0] - ge[j] * n[k, 0]
                    out[b, v, 1] += ge[k] * n[j, 1] - ge[j] * n[k, 1]
                    out[b, v, 3] += ge[k] * n[j, 2] - ge[j] * n[k, 2]
                    out[b, v, 2] += gd * bary[i] / den
                    out[b, v, 3] -= gd * depth * bary[i] / den
    return out


class _RasterizeCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int]) -> torch.Tensor:
        pos_np = float_array(pos)
        tri32 = np.ascontiguousarray(tri.detach().to(torch.int32).numpy())
        ids = triangle_ids_numpy(pos_np, tri32, resolution)
        rast = np.zeros((*ids.shape, 4), dtype=np.float64 if pos.dtype == torch.float64 else np.float32)
        with threads_for(ids.size):
            _fill(pos_np, tri32, ids, rast)
        ctx.arrays = (pos_np, tri32, ids)
        ctx.dtype = pos.dtype
        return torch.from_numpy(rast).to(pos.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        pos_np, tri32, ids = ctx.arrays
        g = float_array(grad)
        with threads_for(ids.size):
            grad_pos = _backward(pos_np, tri32, ids, g)
        return torch.from_numpy(grad_pos).to(ctx.dtype), None, None


def rasterize_numba(pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int]) -> torch.Tensor:
    """(B, H, W, 4) buffer for CPU tensors, differentiable in pos (first order)."""
    return _RasterizeCPU.apply(pos, tri, resolution)
