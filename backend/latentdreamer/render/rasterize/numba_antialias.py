"""Silhouette antialiasing for CPU tensors: the rules of `antialias.py` (the reference, whose
docstring states them) in one compiled walk over the neighbour pairs, with the backward
written out.

The same pair walk serves forward and backward (`_walk`), so the two cannot disagree on
which pairs blend. Blend fraction: alpha = clamp(t, 0, 1) - 0.5 with t = e_o / (e_o - e_x),
where e_o, e_x are the crossed edge's NDC edge function at the owner's and the other pixel's
centres; e = a px + b py + c is bilinear in the edge's NDC end points, whose derivatives
chain to the clip positions through x = X / W, y = Y / W. Float64 arithmetic (colours
and their gradients are stored in the colours' dtype); one task per view, which owns that
view's pixels and position gradients.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

from latentdreamer.render.rasterize.numba_forward import pixel_centres
from latentdreamer.render.rasterize.numba_support import face_array, float_array, threads_for


@numba.njit(parallel=True, cache=True)
def silhouettes_numba(pos: np.ndarray, tri: np.ndarray, edge: np.ndarray, count: np.ndarray) -> np.ndarray:
    """(B, F, 3) bool silhouette flags (see `antialias.silhouette_edges`), area signs in pos's dtype."""
    views, faces = pos.shape[0], tri.shape[0]
    out = np.empty((views, faces, 3), dtype=np.bool_)
    for b in numba.prange(views):
        # x / w once per vertex: the same quotient the reference forms per corner.
        ndc = np.empty((pos.shape[1], 2), dtype=pos.dtype)
        for v in range(pos.shape[1]):
            ndc[v, 0] = pos[b, v, 0] / pos[b, v, 3]
            ndc[v, 1] = pos[b, v, 1] / pos[b, v, 3]
        total = np.zeros(count.shape[0])
        for f in range(faces):
            i0, i1, i2 = tri[f, 0], tri[f, 1], tri[f, 2]
            x0, y0, x1, y1, x2, y2 = ndc[i0, 0], ndc[i0, 1], ndc[i1, 0], ndc[i1, 1], ndc[i2, 0], ndc[i2, 1]
            area2 = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
            facing = 1.0 if area2 > 0 else (-1.0 if area2 < 0 else (0.0 if area2 == 0 else math.nan))
            for k in range(3):
                total[edge[f, k]] += facing
        for f in range(faces):
            for k in range(3):
                e = edge[f, k]
                out[b, f, k] = count[e] == 1 or abs(total[e]) != count[e]
    return out


@numba.njit(parallel=True, cache=True)
def _walk(
    color: np.ndarray,
    rast: np.ndarray,
    pos: np.ndarray,
    tri: np.ndarray,
    silhouette: np.ndarray,
    out: np.ndarray,
    grad: np.ndarray,
    grad_color: np.ndarray,
    grad_pos: np.ndarray,
) -> None:
    """Forward when grad is empty: out (a copy of color) += the blends. Backward otherwise:
    grad_color (a copy of grad) and grad_pos (zeros, or empty when not wanted) += the blends' terms."""
    views, height, width, channels = color.shape
    backward = grad.shape[0] > 0
    want_pos = grad_pos.shape[0] > 0
    xs, ys = pixel_centres(width), pixel_centres(height)
    for b in numba.prange(views):
        has_silhouette = np.empty(silhouette.shape[1], dtype=np.bool_)
        for f in range(silhouette.shape[1]):
            has_silhouette[f] = silhouette[b, f, 0] or silhouette[b, f, 1] or silhouette[b, f, 2]
        ndc = np.empty((3, 2))
        e_own = np.empty(3)
        e_oth = np.empty(3)
        for y in range(height):
            for x in range(width):
                id_a = int(rast[b, y, x, 3]) - 1
                for direction in range(2):
                    yb, xb = (y, x + 1) if direction == 0 else (y + 1, x)
                    if yb >= height or xb >= width:
                        continue
                    id_b = int(rast[b, yb, xb, 3]) - 1
                    if id_a == id_b:
                        continue
                    if not ((id_a >= 0 and has_silhouette[id_a]) or (id_b >= 0 and has_silhouette[id_b])):
                        continue
                    a_owns = id_b < 0 or (id_a >= 0 and rast[b, y, x, 2] <= rast[b, yb, xb, 2])
                    if a_owns:
                        face, yo, xo, yx, xx = id_a, y, x, yb, xb
                    else:
                        face, yo, xo, yx, xx = id_b, yb, xb, y, x
                    if not has_silhouette[face]:
                        continue
                    for i in range(3):
                        v = tri[face, i]
                        ndc[i, 0] = np.float64(pos[b, v, 0]) / pos[b, v, 3]
                        ndc[i, 1] = np.float64(pos[b, v, 1]) / pos[b, v, 3]
                    area2 = 0.0
                    for k in range(3):
                        j, m = (k + 1) % 3, (k + 2) % 3
                        xj, yj, xm, ym = ndc[j, 0], ndc[j, 1], ndc[m, 0], ndc[m, 1]
                        c = xj * ym - xm * yj
                        area2 += c
                        e_own[k] = (yj - ym) * xs[xo] + (xm - xj) * ys[yo] + c
                        e_oth[k] = (yj - ym) * xs[xx] + (xm - xj) * ys[yx] + c
                    sign = -1.0 if area2 < 0.0 else 1.0
                    t, crossed = math.inf, -1
                    for k in range(3):
                        if sign * e_oth[k] < 0.0:
                            tk = e_own[k] / (e_own[k] - e_oth[k])
                            if tk < t:
                                t, crossed = tk, k
                    if not (crossed >= 0 and math.isfinite(t) and silhouette[b, face, crossed]):
                        continue
                    alpha = min(max(t, 0.0), 1.0) - 0.5
                    yt, xt = (yx, xx) if alpha > 0.0 else (yo, xo)
                    if not backward:
                        for ch in range(channels):
                            out[b, yt, xt, ch] += alpha * (np.float64(color[b, yo, xo, ch]) - color[b, yx, xx, ch])
                        continue
                    g_alpha = 0.0
                    for ch in range(channels):
                        g = np.float64(grad[b, yt, xt, ch])
                        grad_color[b, yo, xo, ch] += alpha * g
                        grad_color[b, yx, xx, ch] -= alpha * g
                        g_alpha += g * (np.float64(color[b, yo, xo, ch]) - color[b, yx, xx, ch])
                    if not (want_pos and t >= 0.0 and t <= 1.0):
                        continue
                    denom = e_own[crossed] - e_oth[crossed]
                    g_own = -g_alpha * e_oth[crossed] / (denom * denom)
                    g_oth = g_alpha * e_own[crossed] / (denom * denom)
                    j, m = (crossed + 1) % 3, (crossed + 2) % 3
                    xj, yj, xm, ym = ndc[j, 0], ndc[j, 1], ndc[m, 0], ndc[m, 1]
                    pxo, pyo, pxx, pyx = xs[xo], ys[yo], xs[xx], ys[yx]
                    # e = (yj - ym) px + (xm - xj) py + xj ym - xm yj at both centres.
                    g_xj = g_own * (ym - pyo) + g_oth * (ym - pyx)
                    g_yj = g_own * (pxo - xm) + g_oth * (pxx - xm)
                    g_xm = g_own * (pyo - yj) + g_oth * (pyx - yj)
                    g_ym = g_own * (xj - pxo) + g_oth * (xj - pxx)
                    for i, gx, gy in ((j, g_xj, g_yj), (m, g_xm, g_ym)):
                        v = tri[face, i]
                        w = np.float64(pos[b, v, 3])
                        grad_pos[b, v, 0] += gx / w
                        grad_pos[b, v, 1] += gy / w
                        grad_pos[b, v, 3] -= (gx * ndc[i, 0] + gy * ndc[i, 1]) / w


class _AntialiasCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, color, rast, pos, tri, silhouette):  # noqa: ANN001, ANN205
        arrays = (float_array(color), float_array(rast), float_array(pos), face_array(tri))
        sil = silhouette.numpy()
        out = arrays[0].copy()
        empty = np.zeros((0, 1, 1, 1), dtype=out.dtype)  # the backward's signature: one compile
        with threads_for(out.size):
            _walk(*arrays, sil, out, empty, empty, np.zeros((0, 1, 4)))
        ctx.arrays, ctx.silhouette = arrays, sil
        ctx.dtypes = (color.dtype, pos.dtype)
        return torch.from_numpy(out).to(color.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        color, rast, pos, tri = ctx.arrays
        want_pos = ctx.needs_input_grad[2]
        g = float_array(grad).astype(color.dtype, copy=False)
        grad_color = g.copy()
        grad_pos = np.zeros((pos.shape[0] if want_pos else 0, pos.shape[1], 4))
        with threads_for(g.size):
            _walk(color, rast, pos, tri, ctx.silhouette, np.zeros((0, 1, 1, 1), color.dtype), g, grad_color, grad_pos)
        color_grad = torch.from_numpy(grad_color).to(ctx.dtypes[0]) if ctx.needs_input_grad[0] else None
        pos_grad = torch.from_numpy(grad_pos).to(ctx.dtypes[1]) if want_pos else None
        return color_grad, None, pos_grad, None, None


def antialias_numba(
    color: torch.Tensor, rast: torch.Tensor, pos: torch.Tensor, tri: torch.Tensor, silhouette: torch.Tensor
) -> torch.Tensor:
    """`antialias` for CPU tensors given the (B, F, 3) silhouette flags; first-order gradients."""
    return _AntialiasCPU.apply(color, rast, pos, tri, silhouette)
