"""Compiled CPU forward pass: which triangle is visible at each pixel centre.

The pass only decides visibility (triangle ids); the differentiable buffer is filled in
afterwards (`numba_barycentrics.py` on the CPU, `barycentrics.py` elsewhere), so this
code never needs a backward pass.
The coverage rules are stated in the package docstring and mirrored op-for-op here and
in `torch_forward.py`: both paths use float64 and the same expression order, so they
give bit-identical id buffers.

Parallelism: each (view, band of rows) is one task that owns its rows of the output,
so threads never write to the same pixel.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

from latentdreamer.render.rasterize.numba_support import face_array, float_array, threads_for
from latentdreamer.render.rasterize.pixels import BOX_SLACK


@numba.njit(parallel=True, cache=True)
def _project(pos: np.ndarray) -> np.ndarray:
    """NDC (x/w, y/w, z/w, w) per vertex; the division happens once per vertex, as in torch."""
    views, count = pos.shape[0], pos.shape[1]
    ndc = np.empty((views, count, 4))
    for k in numba.prange(views * count):
        b = k // count
        v = k - b * count
        w = np.float64(pos[b, v, 3])
        ndc[b, v, 0] = np.float64(pos[b, v, 0]) / w
        ndc[b, v, 1] = np.float64(pos[b, v, 1]) / w
        ndc[b, v, 2] = np.float64(pos[b, v, 2]) / w
        ndc[b, v, 3] = w
    return ndc


@numba.njit(cache=True)
def pixel_centres(n: int) -> np.ndarray:
    """NDC pixel centres along an axis, the same float64 expression as `pixels.ndc_centres`."""
    out = np.empty(n)
    for i in range(n):
        out[i] = ((i + 0.5) / n) * 2.0 - 1.0
    return out


@numba.njit(parallel=True, cache=True)
def _raster(ndc: np.ndarray, tri: np.ndarray, height: int, width: int, bands: int) -> np.ndarray:
    """One task per (view, band of rows): it owns those rows, so no two threads share a pixel.

    Each task walks every triangle of its view and skips those outside its rows; with
    bands = 1 (enough views to fill the cores) a triangle is set up exactly once.
    """
    views, faces = ndc.shape[0], tri.shape[0]
    ids = np.full((views, height, width), -1, dtype=np.int32)
    depth = np.full((views, height, width), np.inf)
    xs = pixel_centres(width)
    ys = pixel_centres(height)
    band_rows = (height + bands - 1) // bands
    for task in numba.prange(views * bands):
        b = task // bands
        row_lo = (task - b * bands) * band_rows
        row_hi = min(height, row_lo + band_rows) - 1
        for f in range(faces):
            i0, i1, i2 = tri[f, 0], tri[f, 1], tri[f, 2]
            if not (ndc[b, i0, 3] > 0.0 and ndc[b, i1, 3] > 0.0 and ndc[b, i2, 3] > 0.0):
                continue
            y0, y1, y2 = ndc[b, i0, 1], ndc[b, i1, 1], ndc[b, i2, 1]
            # Rows whose centres lie in the bounding box; the edge test alone decides coverage.
            ylo = max(float(row_lo), math.ceil((min(y0, min(y1, y2)) + 1.0) * 0.5 * height - 0.5 - BOX_SLACK))
            yhi = min(float(row_hi), math.floor((max(y0, max(y1, y2)) + 1.0) * 0.5 * height - 0.5 + BOX_SLACK))
            if not (ylo <= yhi):
                continue
            x0, x1, x2 = ndc[b, i0, 0], ndc[b, i1, 0], ndc[b, i2, 0]
            xlo = max(0.0, math.ceil((min(x0, min(x1, x2)) + 1.0) * 0.5 * width - 0.5 - BOX_SLACK))
            xhi = min(width - 1.0, math.floor((max(x0, max(x1, x2)) + 1.0) * 0.5 * width - 0.5 + BOX_SLACK))
            if not (xlo <= xhi):
                continue
            a0 = y1 - y2
            b0 = x2 - x1
            c0 = x1 * y2 - x2 * y1
            a1 = y2 - y0
            b1 = x0 - x2
            c1 = x2 * y0 - x0 * y2
            a2 = y0 - y1
            b2 = x1 - x0
            c2 = x0 * y1 - x1 * y0
            area2 = c0 + c1 + c2
            if not (math.isfinite(area2) and area2 != 0.0):
                continue
            if area2 < 0.0:
                a0, b0, c0, a1, b1, c1, a2, b2, c2 = -a0, -b0, -c0, -a1, -b1, -c1, -a2, -b2, -c2
                area2 = -area2
            # The depth plane costs three divisions: set it up at the first covered centre only.
            az = bz = cz = 0.0
            has_plane = False
            for y in range(int(ylo), int(yhi) + 1):
                py = ys[y]
                r0 = b0 * py + c0
                r1 = b1 * py + c1
                r2 = b2 * py + c2
                for x in range(int(xlo), int(xhi) + 1):
                    px = xs[x]
                    if not (a0 * px + r0 >= 0.0 and a1 * px + r1 >= 0.0 and a2 * px + r2 >= 0.0):
                        continue
                    if not has_plane:
                        d0, d1, d2 = ndc[b, i0, 2], ndc[b, i1, 2], ndc[b, i2, 2]
                        az = (a0 * d0 + a1 * d1 + a2 * d2) / area2
                        bz = (b0 * d0 + b1 * d1 + b2 * d2) / area2
                        cz = (c0 * d0 + c1 * d1 + c2 * d2) / area2
                        has_plane = True
                    z = az * px + (bz * py + cz)
                    if not (z >= -1.0 and z <= 1.0):
                        continue
                    best = depth[b, y, x]
                    if z < best or (z == best and f < ids[b, y, x]):
                        depth[b, y, x] = z
                        ids[b, y, x] = f
    return ids


def triangle_ids_numpy(pos: np.ndarray, tri: np.ndarray, resolution: tuple[int, int]) -> np.ndarray:
    """Visible triangle per pixel, (B, H, W) int32 with -1 where empty, from float32 or float64
    clip positions (B, V, 4) and int32 faces (F, 3), both C-contiguous (see `float_array`)."""
    height, width = resolution
    views = pos.shape[0]
    with threads_for(views * (height * width + tri.shape[0])):
        threads = numba.get_num_threads()
        # Split views into row bands only when there are fewer views than threads (each band rescans F).
        bands = 1 if views >= threads else min(height, -(-2 * threads // max(views, 1)))
        return _raster(_project(pos), tri, height, width, bands)


def triangle_ids_numba(pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int]) -> torch.Tensor:
    """Visible triangle per pixel, (B, H, W) int64 with -1 where empty, on pos's device."""
    pos_np = float_array(pos)
    tri_np = face_array(tri)
    ids = triangle_ids_numpy(pos_np, tri_np, (int(resolution[0]), int(resolution[1])))
    return torch.from_numpy(ids).to(device=pos.device, dtype=torch.int64)
