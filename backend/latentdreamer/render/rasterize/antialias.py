"""Analytic silhouette antialiasing: the only path from coverage (masks) to vertex positions.

For every pair of horizontal or vertical neighbour pixels that see different triangles,
the nearer of the two triangles (the "owner"; the covered one if the other pixel is empty)
is tested: if the segment between the two pixel centres leaves it through a silhouette edge
at fraction t from the owner's centre, a 1-D box filter along the segment says the owner
covers t - 0.5 of the far pixel (t > 0.5) or leaves 0.5 - t of its own pixel to the far
side (t < 0.5). Both cases add (t - 0.5) * (c_owner - c_other) to one pixel, and t is a
smooth function of the clip positions, which gives the silhouette gradients.

An edge is a silhouette edge in a view when it borders one triangle, or when the
triangles that share it do not all face the same way on screen.
"""

from __future__ import annotations

import torch

from latentdreamer.render.rasterize.edges import OPPOSITE, edge_topology
from latentdreamer.render.rasterize.numba_antialias import antialias_numba, silhouettes_numba
from latentdreamer.render.rasterize.numba_support import face_array, threads_for
from latentdreamer.render.rasterize.pixels import ndc_centres


def _ndc_edge_planes(q: torch.Tensor) -> torch.Tensor:
    """(..., 3, 4) clip vertices -> (..., 3, 3) NDC edge planes (a, b, c), positive inside."""
    x, y = q[..., 0] / q[..., 3], q[..., 1] / q[..., 3]
    planes = []
    for j, k in OPPOSITE:
        xj, yj, xk, yk = x[..., j], y[..., j], x[..., k], y[..., k]
        planes.append(torch.stack([yj - yk, xk - xj, xj * yk - xk * yj], dim=-1))
    planes = torch.stack(planes, dim=-2)
    area2 = planes[..., 2].sum(-1, keepdim=True)
    return planes * torch.where(area2 < 0, -1.0, 1.0).to(planes).unsqueeze(-1)


def silhouette_edges(pos: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """(B, F, 3) bool: whether edge i of each triangle is a silhouette edge in each view."""
    if pos.device.type != "cpu":
        return silhouette_edges_torch(pos, tri)
    edge, count = edge_topology(tri)
    p = pos.detach()
    p = p if p.dtype in (torch.float32, torch.float64) else p.float()
    tri32 = face_array(tri)
    with threads_for(pos.shape[0] * len(tri32)):
        flags = silhouettes_numba(p.contiguous().numpy(), tri32, edge.numpy(), count.numpy())
    return torch.from_numpy(flags)


def silhouette_edges_torch(pos: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """`silhouette_edges` in torch: the reference, on any device."""
    edge, count = edge_topology(tri)
    tri = tri.long()
    p = pos.detach()
    x, y = (p[..., 0] / p[..., 3])[:, tri], (p[..., 1] / p[..., 3])[:, tri]  # (B, F, 3)
    area2 = (x[..., 1] - x[..., 0]) * (y[..., 2] - y[..., 0]) - (x[..., 2] - x[..., 0]) * (y[..., 1] - y[..., 0])
    facing = torch.sign(area2).to(pos.dtype).repeat_interleave(3, dim=1)  # (B, 3F)
    total = facing.new_zeros(pos.shape[0], len(count)).index_add_(1, edge.reshape(-1), facing)
    silhouette = (count == 1) | (total.abs() != count.to(total))
    return silhouette[:, edge.reshape(-1)].view(pos.shape[0], -1, 3)


def antialias(color: torch.Tensor, rast: torch.Tensor, pos: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """Blend colours (B, H, W, C) across silhouette edges; differentiable in color and pos.

    CPU tensors take the compiled pass (first-order gradients only); others `antialias_torch`.
    """
    if color.device.type == "cpu" and rast.device.type == "cpu" and pos.device.type == "cpu":
        return antialias_numba(color, rast, pos, tri, silhouette_edges(pos, tri))
    return antialias_torch(color, rast, pos, tri)


def antialias_torch(color: torch.Tensor, rast: torch.Tensor, pos: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """The reference: pair search and autograd in torch, on any device and to any order."""
    views, height, width, channels = color.shape
    ids = rast[..., 3].detach().to(torch.int64) - 1
    depth = rast[..., 2].detach()
    silhouette = silhouette_edges_torch(pos, tri)
    has_silhouette = silhouette.any(-1)  # (B, F)
    # Cheap dense screening: a pair matters only if a pixel on it sees a triangle with a silhouette edge.
    flat_ids = ids.view(views, -1)
    near_silhouette = (has_silhouette.gather(1, flat_ids.clamp(min=0)) & (flat_ids >= 0)).view_as(ids)
    flat_ids, flat_depth = flat_ids.reshape(-1), depth.reshape(-1)
    owners, others, faces = [], [], []
    for dy, dx in ((0, 1), (1, 0)):
        id_a, id_b = ids[:, : height - dy, : width - dx], ids[:, dy:, dx:]
        pair = (near_silhouette[:, : height - dy, : width - dx] | near_silhouette[:, dy:, dx:]) & (id_a != id_b)
        b, y, x = torch.nonzero(pair, as_tuple=True)
        pix_a = (b * height + y) * width + x
        pix_b = pix_a + (dy * width + dx)
        id_a, id_b = flat_ids[pix_a], flat_ids[pix_b]
        a_owns = (id_b < 0) | ((id_a >= 0) & (flat_depth[pix_a] <= flat_depth[pix_b]))
        owner_id = torch.where(a_owns, id_a, id_b)
        keep = has_silhouette[b, owner_id]
        owners.append(torch.where(a_owns, pix_a, pix_b)[keep])
        others.append(torch.where(a_owns, pix_b, pix_a)[keep])
        faces.append(owner_id[keep])
    owner, other, face = torch.cat(owners), torch.cat(others), torch.cat(faces)
    b = torch.div(owner, height * width, rounding_mode="floor")

    corners = (b * pos.shape[1]).unsqueeze(1) + tri.long()[face]
    planes = _ndc_edge_planes(pos.reshape(-1, 4).index_select(0, corners.reshape(-1)).view(-1, 3, 4))

    def centre(pixel: torch.Tensor) -> torch.Tensor:
        rem = pixel - b * height * width
        px = ndc_centres(rem % width, width, pos.dtype)
        py = ndc_centres(torch.div(rem, width, rounding_mode="floor"), height, pos.dtype)
        return torch.stack([px, py, torch.ones_like(px)], dim=-1).unsqueeze(1)

    e_owner = (planes * centre(owner)).sum(-1)  # (N, 3)
    e_other = (planes * centre(other)).sum(-1)
    leaves = e_other < 0.0
    t = torch.where(leaves, e_owner / torch.where(leaves, e_owner - e_other, 1.0), torch.inf)
    t, edge = t.min(-1)
    blend = torch.isfinite(t) & silhouette[b, face, edge]
    alpha = t[blend].clamp(0.0, 1.0) - 0.5
    owner, other = owner[blend], other[blend]
    flat = color.reshape(-1, channels)
    delta = alpha.unsqueeze(-1).to(color.dtype) * (flat[owner] - flat[other])
    target = torch.where(alpha > 0.0, other, owner)
    return flat.index_add(0, target, delta).view(views, height, width, channels)
