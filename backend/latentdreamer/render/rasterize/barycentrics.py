"""The differentiable rasteriser buffer, rebuilt in torch from the visible triangle ids.

Homogeneous 2-D edge functions (Olano & Greer 1997): with clip vertices q_i = (x_i, y_i, w_i)
and the pixel centre p = (px, py, 1), E_i = (q_j x q_k) . p is proportional to the
perspective-correct barycentric of vertex i, so b_i = E_i / sum(E) needs no division
by w and stays smooth in the positions. That is how u, v carry gradients to `pos`.
"""

from __future__ import annotations

import torch

from latentdreamer.render.rasterize.pixels import ndc_centres


def rast_from_ids(pos: torch.Tensor, tri: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 4) = (u, v, z/w, id + 1) in pos's dtype, zero where ids < 0; u, v, z/w differentiable in pos."""
    views, height, width = ids.shape
    flat = ids.reshape(-1)
    pixel = torch.nonzero(flat >= 0).squeeze(1)
    face = flat.index_select(0, pixel)
    b = torch.div(pixel, height * width, rounding_mode="floor")
    rem = pixel - b * height * width
    py = ndc_centres(torch.div(rem, width, rounding_mode="floor"), height, pos.dtype)
    px = ndc_centres(rem % width, width, pos.dtype)
    corners = (b * pos.shape[1]).unsqueeze(1) + tri.long().index_select(0, face)
    q = pos.reshape(-1, 4).index_select(0, corners.reshape(-1)).view(-1, 3, 4)
    xyw = q.index_select(-1, torch.tensor([0, 1, 3], device=q.device))
    centre = torch.stack([px, py, torch.ones_like(px)], dim=-1).unsqueeze(1)
    # Row i: q_j x q_k for the edge opposite vertex i, dotted with the pixel centre.
    e = (torch.linalg.cross(xyw.roll(-1, dims=1), xyw.roll(-2, dims=1), dim=-1) * centre).sum(-1)
    bary = e / e.sum(-1, keepdim=True)
    depth = (bary * q[..., 2]).sum(-1) / (bary * q[..., 3]).sum(-1)
    values = torch.stack([bary[:, 0], bary[:, 1], depth, (face + 1).to(pos.dtype)], dim=-1)
    rast = pos.new_zeros(views * height * width, 4).index_copy(0, pixel, values)
    return rast.view(views, height, width, 4)
