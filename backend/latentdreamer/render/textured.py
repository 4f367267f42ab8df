"""Render a UV-textured mesh in a batch of cameras: what a viewer shows of a baked texture.

Used to score the bake against the views (benchmarks, tests) and to render textured ground
truth: the UVs are interpolated per pixel and the image sampled bilinearly, so the picture
carries the texture's detail, not the vertices'.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentdreamer.render.cameras import Cameras, to_clip
from latentdreamer.render.rasterize import antialias, interpolate, rasterize


def sample_texture(texture: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """(H, W, C) image (row 0 at the top) at (..., 2) UVs (v up) -> (..., C), bilinear."""
    shape = uv.shape[:-1]
    grid = torch.stack([uv[..., 0] * 2 - 1, 1 - uv[..., 1] * 2], dim=-1).reshape(1, 1, -1, 2)
    out = F.grid_sample(
        texture.permute(2, 0, 1)[None].to(uv.dtype), grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return out[0, :, 0].T.reshape(*shape, texture.shape[-1])


def render_textured(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    corner_uvs: torch.Tensor,
    texture: torch.Tensor,
    cameras: Cameras,
    resolution: int = 320,
    background: float = 0.5,
) -> torch.Tensor:
    """(B, H, W, C) antialiased colour over `background`, row 0 at the bottom (like render_views)."""
    cameras = cameras.to(vertices.device)
    tri = faces.to(device=vertices.device, dtype=torch.int32)
    clip = to_clip(vertices, cameras)
    rast = rasterize(clip, tri, (resolution, resolution))
    corner_tri = torch.arange(faces.shape[0] * 3, dtype=torch.int32, device=vertices.device).reshape(-1, 3)
    uv = interpolate(corner_uvs.reshape(-1, 2).to(vertices), rast, corner_tri)
    covered = (rast[..., 3:] > 0).to(vertices.dtype)
    colour = sample_texture(texture.to(vertices), uv)
    image = covered * colour + (1 - covered) * background
    return antialias(image, rast, clip, tri)
