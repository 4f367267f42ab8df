"""Step 1 of the bake: which surface point every texel of the atlas stands for.

The mesh is rasterised in UV space (each corner drawn at its UV, z = 0) with the same
rasteriser the views use; interpolating corner positions and normals over that buffer gives
each covered texel its object-frame point and normal. Texel centres follow the rasteriser's
pixel-centre rule, so a texel belongs to the chart whose triangle covers its centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentdreamer.geometry.normals import vertex_normals
from latentdreamer.render.rasterize import interpolate, rasterize


@dataclass(frozen=True)
class Texels:
    """The covered texels of a (resolution x resolution) atlas, row 0 at the bottom (v = 0)."""

    resolution: int
    index: torch.Tensor
    """(N,) flat index into the resolution**2 texels (row-major, row 0 = v near 0)."""
    points: torch.Tensor
    """(N, 3) object-frame surface point of each covered texel."""
    normals: torch.Tensor
    """(N, 3) unit surface normal (interpolated vertex normals)."""


def surface_texels(vertices: torch.Tensor, faces: torch.Tensor, corner_uvs: torch.Tensor, resolution: int) -> Texels:
    """Rasterise (F, 3, 2) corner UVs at `resolution`^2 and interpolate the surface there."""
    n_faces = faces.shape[0]
    uv = corner_uvs.reshape(-1, 2).to(vertices)
    clip = torch.cat([uv * 2.0 - 1.0, torch.zeros_like(uv[:, :1]), torch.ones_like(uv[:, :1])], dim=-1)
    tri = torch.arange(n_faces * 3, dtype=torch.int32, device=vertices.device).reshape(n_faces, 3)
    rast = rasterize(clip[None], tri, (resolution, resolution))
    normals = vertex_normals(vertices, faces)
    corner_attrs = torch.cat([vertices[faces].reshape(-1, 3), normals[faces].reshape(-1, 3)], dim=-1)
    surface = interpolate(corner_attrs, rast, tri)[0].reshape(-1, 6)
    index = torch.nonzero(rast[0, ..., 3].reshape(-1) > 0).squeeze(1)
    picked = surface[index]
    return Texels(
        resolution=resolution,
        index=index,
        points=picked[:, :3],
        normals=torch.nn.functional.normalize(picked[:, 3:], dim=-1, eps=1e-12),
    )
