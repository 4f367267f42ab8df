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
from latentdreamer.render.rasterize.numba_support import face_array, float_array, threads_for


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
        acc = np.zeros((3, 4))  # gradient of the current run of pixels that see one triangle
        for y in range(height):
            py = ys[y]
            last = -1
            for x in range(width + 1):
                f = ids[b, y, x] if x < width else -1
                if f != last and last >= 0:  # flush the finished run into the shared vertices
                    for i in range(3):
                        v = tri[last, i]
                        for c in range(4):
                            out[b, v, c] += acc[i, c]
                            acc[i, c] = 0.0
                last = f
                if f < 0:
                    continue
                gu, gv, gd = np.float64(grad[b, y, x, 0]), np.float64(grad[b, y, x, 1]), np.float64(grad[b, y, x, 2])
                if gu == 0.0 and gv == 0.0 and gd == 0.0:
                    continue
                px = xs[x]
                for i in range(3):
                    for c in range(4):
                        q[i, c] = pos[b, tri[f, i], c]
                x0, y0, z0, w0 = q[0, 0], q[0, 1], q[0, 2], q[0, 3]
                x1, y1, z1, w1 = q[1, 0], q[1, 1], q[1, 2], q[1, 3]
                x2, y2, z2, w2 = q[2, 0], q[2, 1], q[2, 2], q[2, 3]
                # n_i = q_i x p on (x, y, w); E_i = (q_j x q_k) . p = q_j . n_k.
                n0x, n0y, n0w = y0 - w0 * py, w0 * px - x0, x0 * py - y0 * px
                n1x, n1y, n1w = y1 - w1 * py, w1 * px - x1, x1 * py - y1 * px
                n2x, n2y, n2w = y2 - w2 * py, w2 * px - x2, x2 * py - y2 * px
                e0 = x1 * n2x + y1 * n2y + w1 * n2w
                e1 = x2 * n0x + y2 * n0y + w2 * n0w
                e2 = x0 * n1x + y0 * n1y + w0 * n1w
                s = e0 + e1 + e2
                b0, b1, b2 = e0 / s, e1 / s, e2 / s
                den = b0 * w0 + b1 * w1 + b2 * w2
                depth = (b0 * z0 + b1 * z1 + b2 * z2) / den
                gb0 = gu + gd * (z0 - depth * w0) / den
                gb1 = gv + gd * (z1 - depth * w1) / den
                gb2 = gd * (z2 - depth * w2) / den
                dot = gb0 * b0 + gb1 * b1 + gb2 * b2
                g0, g1, g2 = (gb0 - dot) / s, (gb1 - dot) / s, (gb2 - dot) / s
                # E_j = -q_i . n_k and E_k = q_i . n_j hold q_i (j = i + 1, k = i + 2).
                acc[0, 0] += g2 * n1x - g1 * n2x
                acc[0, 1] += g2 * n1y - g1 * n2y
                acc[0, 3] += g2 * n1w - g1 * n2w
                acc[1, 0] += g0 * n2x - g2 * n0x
                acc[1, 1] += g0 * n2y - g2 * n0y
                acc[1, 3] += g0 * n2w - g2 * n0w
                acc[2, 0] += g1 * n0x - g0 * n1x
                acc[2, 1] += g1 * n0y - g0 * n1y
                acc[2, 3] += g1 * n0w - g0 * n1w
                # z/w = sum(b z) / sum(b w) also holds z_i and w_i directly.
                k = gd / den
                acc[0, 2] += k * b0
                acc[1, 2] += k * b1
                acc[2, 2] += k * b2
                acc[0, 3] -= k * depth * b0
                acc[1, 3] -= k * depth * b1
                acc[2, 3] -= k * depth * b2
    return out


class _RasterizeCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int]) -> torch.Tensor:
        pos_np = float_array(pos)
        tri32 = face_array(tri)
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
