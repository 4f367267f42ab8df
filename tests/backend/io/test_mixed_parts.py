"""glTF files whose parts differ in how they carry colour: vertex colours, a texture, a plain
material colour without texture coordinates, or nothing (as in Khronos' CesiumMilkTruck)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from PIL import Image

from latentdreamer.io.mesh_io import load_mesh


def _coloured_box() -> trimesh.Trimesh:
    box = trimesh.creation.box()
    box.visual.vertex_colors = np.tile([255, 0, 0, 255], (len(box.vertices), 1))
    return box


def _textured_box() -> trimesh.Trimesh:
    box = trimesh.creation.box()
    box.apply_translation([0, 2, 0])
    image = Image.fromarray(np.full((8, 8, 3), (0, 200, 0), np.uint8))
    box.visual = trimesh.visual.TextureVisuals(uv=np.random.default_rng(0).random((len(box.vertices), 2)), image=image)
    return box


def _material_only_sphere() -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions=1)
    sphere.apply_translation([3, 0, 0])
    material = trimesh.visual.material.PBRMaterial(baseColorFactor=[0, 0, 255, 255])
    sphere.visual = trimesh.visual.TextureVisuals(material=material)
    return sphere


def _plain_sphere() -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions=1)
    sphere.apply_translation([-3, 0, 0])
    return sphere


@pytest.mark.parametrize(
    "parts",
    [
        ("coloured", "plain"),
        ("textured", "material"),
        ("textured", "plain", "coloured"),
        ("material", "plain"),
    ],
)
def test_every_mix_of_coloured_and_uncoloured_parts_loads(tmp_path, parts):
    make = {"coloured": _coloured_box, "textured": _textured_box, "material": _material_only_sphere, "plain": _plain_sphere}
    meshes = [make[p]() for p in parts]
    path = tmp_path / "mixed.glb"
    trimesh.Scene(meshes).export(path)
    mesh = load_mesh(path)
    assert mesh.num_faces >= sum(len(m.faces) for m in meshes) - 12  # UV-seam welding may drop none here
    assert mesh.colors is not None and mesh.colors.shape == (mesh.num_vertices, 4)
    assert np.isfinite(mesh.colors).all() and mesh.colors.min() >= 0 and mesh.colors.max() <= 1
    if "material" in parts:  # the blue of a material without a texture is kept, not lost
        assert (mesh.colors[:, 2] > 0.9).any()
