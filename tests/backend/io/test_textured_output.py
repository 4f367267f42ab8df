"""Textured results on disk: GLB with baseColorTexture and TEXCOORD_0, OBJ + MTL + PNG, PLY
without a texture; read back by trimesh (and by Blender in tests/addon/test_texture_import.py)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import trimesh

from latentdreamer.geometry.mesh import Mesh
from latentdreamer.io.images import read_image
from latentdreamer.io.mesh_io import VERTEX_COLOR_ATTRIBUTE, read_glb_document, save_mesh, textured_obj_files


def textured_box() -> Mesh:
    """A closed box whose faces each get their own UV square (seams everywhere) on a 4-colour image."""
    box = trimesh.creation.box(extents=(0.6, 0.6, 0.6))
    faces = np.asarray(box.faces)
    corner_uvs = np.zeros((len(faces), 3, 2), np.float32)
    for i in range(len(faces)):
        cell = np.array([(i % 4) * 0.25, (i // 4) * 0.25], np.float32)
        corner_uvs[i] = cell + np.array([[0.02, 0.02], [0.23, 0.02], [0.02, 0.23]], np.float32)
    texture = np.zeros((32, 32, 3), np.float32)
    texture[:16, :16] = (1, 0, 0)
    texture[:16, 16:] = (0, 1, 0)
    texture[16:, :16] = (0, 0, 1)
    texture[16:, 16:] = (1, 1, 0)
    colors = np.full((len(box.vertices), 4), 0.5, np.float32)
    return Mesh(box.vertices, faces, colors, uvs=corner_uvs, texture=texture)


def test_glb_has_base_colour_texture_texcoords_and_the_vertex_colours(tmp_path):
    mesh = textured_box()
    path = save_mesh(mesh, tmp_path / "box.glb")
    document, _ = read_glb_document(path)
    primitive = document["meshes"][0]["primitives"][0]
    assert {"POSITION", "TEXCOORD_0", VERTEX_COLOR_ATTRIBUTE} <= set(primitive["attributes"])
    assert "COLOR_0" not in primitive["attributes"]  # glTF would multiply it into the texture
    material = document["materials"][primitive["material"]]
    assert material["pbrMetallicRoughness"]["baseColorTexture"]["index"] == 0
    assert document["images"][0]["mimeType"] == "image/png"

    scene = trimesh.load(path)
    (loaded,) = scene.geometry.values()
    assert isinstance(loaded.visual, trimesh.visual.TextureVisuals)
    image = np.asarray(loaded.visual.material.baseColorTexture.convert("RGB"), np.float32) / 255
    np.testing.assert_allclose(image, mesh.texture, atol=1 / 255)
    # trimesh flips glTF's v back: its UVs are ours, one per (vertex, UV) pair
    uv = np.asarray(loaded.visual.uv)[np.asarray(loaded.faces)]
    np.testing.assert_allclose(uv, mesh.uvs, atol=1e-6)
    assert len(loaded.faces) == mesh.num_faces
    # face 0's UVs sit in the bottom-left cell (v up), which is the image's blue quarter
    lookup = loaded.visual.material.to_color(uv.reshape(-1, 2)).reshape(-1, 3, 4)
    assert tuple(lookup[0, 0, :3]) == (0, 0, 255)


def test_obj_writes_mtl_and_png_beside_it(tmp_path):
    mesh = textured_box()
    path = save_mesh(mesh, tmp_path / "box.obj")
    mtl, png = textured_obj_files(path)
    assert mtl.is_file() and png.is_file()
    assert f"map_Kd {png.name}" in mtl.read_text()
    text = path.read_text()
    assert f"mtllib {mtl.name}" in text and "\nvt " in text and "f 1/" in text
    first_v = next(line for line in text.splitlines() if line.startswith("v "))
    assert len(first_v.split()) == 7  # the vertex colours stay (v x y z r g b)
    np.testing.assert_allclose(read_image(png), mesh.texture, atol=1 / 255)
    loaded = trimesh.load(path, process=False)
    assert isinstance(loaded.visual, trimesh.visual.TextureVisuals)
    assert loaded.visual.material.image.size == (32, 32)
    assert len(loaded.faces) == mesh.num_faces


def test_ply_keeps_the_vertex_colours_only(tmp_path):
    path = save_mesh(textured_box(), tmp_path / "box.ply")
    loaded = trimesh.load(path, process=False)
    assert loaded.visual.kind == "vertex"


def test_mesh_checks_uvs_and_texture():
    box = textured_box()
    with pytest.raises(ValueError, match="come together"):
        Mesh(box.vertices, box.faces, uvs=box.uvs)
    with pytest.raises(ValueError, match=r"\(F, 3, 2\)"):
        Mesh(box.vertices, box.faces, uvs=box.uvs[:-1], texture=box.texture)


def test_cli_texture_choice_follows_the_format():
    from latentdreamer.cli.generate import texture_mode

    def args(texture=None, no_texture=False):
        return argparse.Namespace(texture=texture, no_texture=no_texture)

    from pathlib import Path

    assert texture_mode(args(), Path("a.glb")) == "uv" and texture_mode(args(), Path("a.obj")) == "uv"
    assert texture_mode(args(), Path("a.ply")) == "vertex"
    assert texture_mode(args("vertex"), Path("a.glb")) == "vertex"
    assert texture_mode(args(no_texture=True), Path("a.glb")) is False
    with pytest.raises(ValueError, match="PLY file holds no texture"):
        texture_mode(args("uv"), Path("a.ply"))
    with pytest.raises(ValueError, match="exclude each other"):
        texture_mode(args("uv", True), Path("a.glb"))


def test_settings_and_protocol_take_the_texture_modes():
    from latentdreamer.api import DEFAULT_TEXTURE, GenerateSettings
    from latentdreamer.worker.protocol import RequestError, parse_line

    assert GenerateSettings(texture=True).texture == DEFAULT_TEXTURE
    assert GenerateSettings(texture="vertex").texture == "vertex"
    assert GenerateSettings(texture=False).texture is False
    with pytest.raises(ValueError, match="unknown texture"):
        GenerateSettings(texture="pbr")
    for value in (True, False, "uv", "vertex"):
        line = {"type": "generate", "id": "g", "image": "/x.png", "settings": {"texture": value}}
        request = parse_line(json.dumps(line))
        assert request.generate.settings["texture"] == value
    with pytest.raises(RequestError, match="bool or str"):
        parse_line('{"type": "generate", "id": "g", "image": "/x.png", "settings": {"texture": 1}}')
