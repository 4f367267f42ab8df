"""Meshes and views shared by the rasteriser tests."""

from __future__ import annotations

import pytest
import torch
import trimesh

from latentdreamer.render.cameras import orbit_cameras, prior_cameras, to_clip


def sphere_scene(subdivisions: int = 2, extra: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip positions (6 prior views + 2 close/oblique ones) and faces: an icosphere plus random
    triangles that poke through it, cross the near plane or go behind the camera."""
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=0.4)
    gen = torch.Generator().manual_seed(seed)
    verts = torch.tensor(sphere.vertices, dtype=torch.float32)
    faces = torch.tensor(sphere.faces, dtype=torch.int64)
    loose = (torch.rand(extra * 3, 3, generator=gen) - 0.5) * 1.4
    loose[:3] *= 3.0  # a large triangle reaching past the near plane of the close camera
    faces = torch.cat([faces, len(verts) + torch.arange(extra * 3).view(extra, 3)])
    verts = torch.cat([verts, loose])
    cams = prior_cameras()
    close = orbit_cameras([45.0, 200.0], [5.0, -30.0], distance=0.9)
    pos = torch.cat([to_clip(verts, cams), to_clip(verts, close)])
    return pos, faces.to(torch.int32)


@pytest.fixture(scope="module")
def scene() -> tuple[torch.Tensor, torch.Tensor]:
    return sphere_scene()
