"""A UV texture baked straight from the six views, for colour detail beyond the mesh density.

Vertex colours hold one colour per vertex (about 9k at `standard`), so anything finer than an
edge is lost; the views themselves are 320 px. The bake keeps that detail:

1. unwrap: xatlas charts and packs the surface into one square atlas (geometry/uv_unwrap.py);
2. texels: every atlas texel gets its surface point and normal (texels.py);
3. view colours: the view-aware weighted mean of the views that see the point (view_colours.py);
4. grid fill: the texture stage's colour field, with a small constant weight, so texels that
   no view sees squarely (under the chin, inside a handle) get the fitted colour instead of
   a noisy grazing-angle sample, and the blend between the two is smooth;
5. push-pull: every texel outside the charts takes its nearest chart colour (push_pull.py),
   so filtering across a seam never reads black.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latentdreamer.geometry.uv_unwrap import unwrap
from latentdreamer.render.bake.push_pull import push_pull
from latentdreamer.render.bake.texels import surface_texels
from latentdreamer.render.bake.view_colours import blend_views
from latentdreamer.render.cameras import Cameras
from latentdreamer.render.views import render_views

FILL_WEIGHT = 0.02
"""Weight of the colour field in every texel's mean; a view at cos theta = 0.14 (82 degrees)
weighs the same at k = 2. Small enough that a view seeing the point squarely decides alone."""

PADDING = 4
"""Gutter between charts in texels at 1024 px (scaled with the resolution): enough for the
first two mip levels of a viewer's filtering."""

CHUNK = 1 << 18
"""Texels projected per batch: bounds the (6, N) temporaries to a few hundred MB at 2048 px."""


@dataclass(frozen=True)
class BakedTexture:
    corner_uvs: np.ndarray
    """(F, 3, 2) float32 UVs per face corner, v up."""
    image: np.ndarray
    """(R, R, 3) float32 sRGB, row 0 at the top (as written to PNG)."""
    coverage: float
    """Share of chart texels that at least one view saw (the rest came from the colour field)."""
    timings: dict[str, float]


def bake_texture(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    rgb: torch.Tensor,
    mask: torch.Tensor,
    cameras: Cameras,
    resolution: int,
    view_power: float,
    fill: Callable[[torch.Tensor], torch.Tensor],
    corner_uvs: np.ndarray | None = None,
) -> BakedTexture:
    """Bake (B, H, W, 3) views and (B, H, W, 1) masks (row 0 at the bottom) seen by `cameras`.

    `fill` maps (N, 3) points to (N, 3) colours (the texture stage's grid); `corner_uvs`
    skips the unwrap when the mesh already has UVs.
    """
    import time

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    with torch.no_grad():
        if corner_uvs is None:
            padding = max(2, round(PADDING * resolution / 1024))
            corner_uvs = unwrap(vertices.cpu().numpy(), faces.cpu().numpy(), resolution, padding)
        lap("unwrap")
        texels = surface_texels(vertices, faces, torch.from_numpy(corner_uvs).to(vertices.device), resolution)
        depth = render_views(vertices, faces, cameras, rgb.shape[1]).depth
        lap("texels")
        colour = torch.empty((len(texels.index), 3), dtype=vertices.dtype, device=vertices.device)
        seen = torch.empty(len(texels.index), dtype=torch.bool, device=vertices.device)
        for start in range(0, len(texels.index), CHUNK):
            part = slice(start, start + CHUNK)
            points, normals = texels.points[part], texels.normals[part]
            total, weight = blend_views(points, normals, rgb, mask, depth, cameras, view_power)
            field = fill(points).to(total)
            colour[part] = (total + FILL_WEIGHT * field) / (weight + FILL_WEIGHT)[:, None]
            seen[part] = weight > 0
        lap("views")
        image = torch.zeros((resolution * resolution, 3), dtype=vertices.dtype, device=vertices.device)
        filled = torch.zeros(resolution * resolution, dtype=torch.bool, device=vertices.device)
        image[texels.index] = colour.clamp(0, 1)
        filled[texels.index] = True
        image = push_pull(image.view(resolution, resolution, 3), filled.view(resolution, resolution))
        lap("dilate")
    picture = np.ascontiguousarray(image.flip(0).cpu().numpy().astype(np.float32))
    coverage = float(seen.float().mean()) if len(seen) else 0.0
    return BakedTexture(corner_uvs=corner_uvs, image=picture, coverage=coverage, timings=timings)
