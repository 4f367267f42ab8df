"""Pure-torch forward pass: the device-agnostic twin of `numba_forward.py`.

Same float64 arithmetic in the same order as the compiled pass, so the id buffers
are bit-identical. Each triangle expands to the pixel centres of its box; the
candidates are processed in chunks of bounded size (one triangle larger than the
budget gets a chunk of its own, so memory is bounded by max(budget, H*W)).
"""

from __future__ import annotations

import torch

from latentdreamer.render.rasterize.pixels import BOX_SLACK, ndc_centres

CANDIDATE_BUDGET = 1 << 19
"""Candidate pixels per chunk; ~100 bytes each at peak, so ~50 MB."""


def triangle_setup(pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Inside-positive edge planes and the z/w plane in NDC, (B, F, 12) float64, and
    the pixel boxes of centres inside each bounding box (B, F, 4) = (x_lo, x_hi, y_lo, y_hi), empty (lo > hi) when culled."""
    height, width = resolution
    p = pos.detach().to(torch.float64)
    ndc = p[..., :3] / p[..., 3:]  # per vertex, as in the compiled pass
    corners = tri.long()
    x, y, d = ndc[:, corners, 0], ndc[:, corners, 1], ndc[:, corners, 2]  # (B, F, 3)
    w = p[:, corners, 3]
    x0, x1, x2 = x.unbind(-1)
    y0, y1, y2 = y.unbind(-1)
    d0, d1, d2 = d.unbind(-1)
    a0, b0, c0 = y1 - y2, x2 - x1, x1 * y2 - x2 * y1
    a1, b1, c1 = y2 - y0, x0 - x2, x2 * y0 - x0 * y2
    a2, b2, c2 = y0 - y1, x1 - x0, x0 * y1 - x1 * y0
    area2 = c0 + c1 + c2
    sign = torch.where(area2 < 0.0, -1.0, 1.0).to(area2)
    a0, b0, c0, a1, b1, c1, a2, b2, c2 = (t * sign for t in (a0, b0, c0, a1, b1, c1, a2, b2, c2))
    area2 = area2 * sign
    az = (a0 * d0 + a1 * d1 + a2 * d2) / area2
    bz = (b0 * d0 + b1 * d1 + b2 * d2) / area2
    cz = (c0 * d0 + c1 * d1 + c2 * d2) / area2
    coef = torch.stack([a0, b0, c0, a1, b1, c1, a2, b2, c2, az, bz, cz], dim=-1)

    xlo, xhi = x.amin(-1), x.amax(-1)
    ylo, yhi = y.amin(-1), y.amax(-1)
    valid = (w > 0.0).all(-1) & torch.isfinite(area2) & (area2 != 0.0)
    valid &= (xhi >= -1.0) & (xlo <= 1.0) & (yhi >= -1.0) & (ylo <= 1.0)
    box = torch.stack(
        [
            torch.ceil((xlo + 1.0) * 0.5 * width - 0.5 - BOX_SLACK).clamp(min=0, max=width),
            torch.floor((xhi + 1.0) * 0.5 * width - 0.5 + BOX_SLACK).clamp(min=-1, max=width - 1),
            torch.ceil((ylo + 1.0) * 0.5 * height - 0.5 - BOX_SLACK).clamp(min=0, max=height),
            torch.floor((yhi + 1.0) * 0.5 * height - 0.5 + BOX_SLACK).clamp(min=-1, max=height - 1),
        ],
        dim=-1,
    )
    box = torch.where(valid.unsqueeze(-1), box.nan_to_num(nan=0.0), box.new_tensor([1.0, 0.0, 1.0, 0.0]))
    return coef, box.to(torch.int64)


def triangle_ids_torch(pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int]) -> torch.Tensor:
    """Visible triangle per pixel, (B, H, W) int64 with -1 where empty; nearest z/w wins, ties to the lower id."""
    height, width = resolution
    views, faces = pos.shape[0], tri.shape[0]
    device = pos.device
    coef, box = triangle_setup(pos, tri, resolution)
    coef, box = coef.reshape(-1, coef.shape[-1]), box.reshape(-1, 4)
    nx = (box[:, 1] - box[:, 0] + 1).clamp(min=0)
    ny = (box[:, 3] - box[:, 2] + 1).clamp(min=0)
    count = nx * ny
    live = torch.nonzero(count > 0).squeeze(1)
    count = count[live]
    start = torch.cumsum(count, 0) - count

    best_depth = torch.full((views * height * width,), torch.inf, dtype=torch.float64, device=device)
    best_id = torch.full((views * height * width,), faces, dtype=torch.int64, device=device)
    _, per_chunk = torch.unique_consecutive(torch.div(start, CANDIDATE_BUDGET, rounding_mode="floor"), return_counts=True)
    for chunk in torch.split(torch.arange(len(live), device=device), per_chunk.tolist()):
        rep = torch.repeat_interleave(chunk, count[chunk])
        local = torch.arange(len(rep), device=device) - (start[rep] - start[chunk[0]])
        flat = live[rep]
        cx = nx[flat]
        x = box[flat, 0] + local % cx
        y = box[flat, 2] + torch.div(local, cx, rounding_mode="floor")
        px, py = ndc_centres(x, width), ndc_centres(y, height)
        c = coef[flat]
        # Grouped as a * px + (b * py + c), exactly as the compiled pass evaluates it.
        inside = c[:, 0] * px + (c[:, 1] * py + c[:, 2]) >= 0.0
        inside &= c[:, 3] * px + (c[:, 4] * py + c[:, 5]) >= 0.0
        inside &= c[:, 6] * px + (c[:, 7] * py + c[:, 8]) >= 0.0
        z = c[:, 9] * px + (c[:, 10] * py + c[:, 11])
        inside &= (z >= -1.0) & (z <= 1.0)
        keep = torch.nonzero(inside).squeeze(1)
        b, f = torch.div(flat[keep], faces, rounding_mode="floor"), flat[keep] % faces
        pixel = (b * height + y[keep]) * width + x[keep]
        z = z[keep]
        new_depth = best_depth.scatter_reduce(0, pixel, z, reduce="amin", include_self=True)
        winner_so_far = torch.where(best_depth == new_depth, best_id, faces)
        wins = z == new_depth[pixel]
        best_id = winner_so_far.scatter_reduce(0, pixel[wins], f[wins], reduce="amin", include_self=True)
        best_depth = new_depth
    best_id = torch.where(best_id == faces, -1, best_id)
    return best_id.view(views, height, width)
