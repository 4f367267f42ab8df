"""Render a mesh in a batch of cameras into the buffers the losses compare with the priors.

One rasterisation per call; every per-vertex quantity (coverage, camera-space normals,
depth, colours) is stacked and interpolated together, and the image-like buffers go
through one antialias pass, which is what carries silhouette gradients to the vertex
positions. Buffers are (B, H, W, C) with row 0 at the bottom, as rendered; use
`io.images.rendered_to_image` to get pictures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from latentdreamer.geometry.normals import face_normals, vertex_normals
from latentdreamer.render.cameras import Cameras, to_clip
from latentdreamer.render.normal_maps import BACKGROUND_VALUE, encode_normals
from latentdreamer.render.rasterize import antialias, interpolate, rasterize

NormalSource = Literal["vertex", "face"]


@dataclass
class RenderedViews:
    """What one render gives; all (B, H, W, C), row 0 at the bottom."""

    mask: torch.Tensor
    """(.., 1) antialiased coverage in [0, 1]; differentiable in the vertex positions."""
    normals: torch.Tensor
    """(.., 3) camera-space normals encoded (n + 1) / 2, background 0.5 grey, antialiased."""
    depth: torch.Tensor
    """(.., 1) distance in front of the camera along its axis (camera-space -z); 0 where empty."""
    rgb: torch.Tensor | None
    """(.., C) vertex colours over the background, antialiased; None without colours."""
    rast: torch.Tensor
    """(.., 4) the raw rasteriser buffer, for further `interpolate` calls on the same pass."""


def render_views(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    cameras: Cameras,
    resolution: int | tuple[int, int] = 320,
    colors: torch.Tensor | None = None,
    normals: NormalSource = "vertex",
    background: float | tuple[float, ...] = 0.5,
    backend: str = "auto",
) -> RenderedViews:
    """Object-frame vertices (V, 3), faces (F, 3) and optional colours (V, C) in `cameras`.

    `normals="vertex"` shades with area-weighted vertex normals (smooth, like the prior's
    normal maps); "face" uses flat face normals (sharper, shows faceting).
    """
    if normals not in ("vertex", "face"):
        raise ValueError(f"normals must be 'vertex' or 'face', got {normals!r}")
    height, width = (resolution, resolution) if isinstance(resolution, int) else resolution
    cameras = cameras.to(vertices.device)
    tri = faces.to(device=vertices.device, dtype=torch.int32)
    clip = to_clip(vertices, cameras)
    rast = rasterize(clip, tri, (height, width), backend=backend)
    covered = (rast[..., 3:] > 0).to(vertices.dtype)

    rotation = cameras.view[:, :3, :3].to(vertices)
    homo = torch.cat([vertices, torch.ones_like(vertices[:, :1])], dim=-1)
    depth_v = -torch.einsum("bj,vj->bv", cameras.view[:, 2].to(vertices), homo).unsqueeze(-1)  # (B, V, 1)
    stack = [depth_v]
    if normals == "vertex":
        stack.append(torch.einsum("bij,vj->bvi", rotation, vertex_normals(vertices, faces)))
    if colors is not None:
        stack.append(colors.to(vertices).unsqueeze(0).expand(len(cameras), -1, -1))
    values = interpolate(torch.cat(stack, dim=-1), rast, tri)
    depth, offset = values[..., :1], 1
    if normals == "vertex":
        n_cam, offset = values[..., 1:4], 4
    else:
        n_face = torch.einsum("bij,fj->bfi", rotation, face_normals(vertices, faces))
        ids = (rast[..., 3].long() - 1).clamp(min=0).reshape(len(cameras), -1, 1)
        n_cam = torch.gather(n_face, 1, ids.expand(-1, -1, 3)).view(*rast.shape[:3], 3)
    n_cam = torch.nn.functional.normalize(n_cam, dim=-1, eps=1e-12)
    encoded = covered * encode_normals(n_cam) + (1.0 - covered) * BACKGROUND_VALUE

    images = [covered, encoded]
    if colors is not None:
        bg = torch.as_tensor(background, dtype=vertices.dtype, device=vertices.device)
        images.append(covered * values[..., offset:] + (1.0 - covered) * bg)
    smooth = antialias(torch.cat(images, dim=-1), rast, clip, tri)
    return RenderedViews(
        mask=smooth[..., :1],
        normals=smooth[..., 1:4],
        depth=depth,
        rgb=smooth[..., 4:] if colors is not None else None,
        rast=rast,
    )
