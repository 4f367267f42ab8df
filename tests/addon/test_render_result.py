"""scripts/render_result.py: a Cycles (CPU) render of an imported result shows its vertex colours."""

from __future__ import annotations

import importlib.util

import bpy
import numpy as np

from addon_testing import REPO
from test_mesh_import import icosphere_arrays


def test_render_shows_the_vertex_colours(tmp_path):
    spec = importlib.util.spec_from_file_location("render_result", REPO / "scripts" / "render_result.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    arrays = icosphere_arrays(3)
    colors = np.tile(np.array([[220, 30, 30, 255]], np.uint8), (len(arrays.vertices), 1))
    npz = tmp_path / "ball.npz"
    np.savez(npz, vertices=arrays.vertices, faces=arrays.faces, colors=colors)
    png = tmp_path / "ball.png"
    assert script.main([str(npz), str(png), "--samples", "2", "--size", "48"]) == 0
    image = bpy.data.images.load(str(png))
    px = np.empty(48 * 48 * 4, np.float32)
    image.pixels.foreach_get(px)
    px = px.reshape(48, 48, 4)
    r, g, b = px[20:28, 20:28, :3].mean(axis=(0, 1))  # the ball sits in the middle of the frame
    assert r > 2 * g and r > 2 * b, (r, g, b)
    assert px[..., 2].mean() > px[20:28, 20:28, 2].mean()  # the rest (floor, sky) is not red


def test_compare_renders_vertex_colours_beside_the_baked_texture(tmp_path):
    from test_texture_import import textured_arrays

    spec = importlib.util.spec_from_file_location("render_result", REPO / "scripts" / "render_result.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    arrays = textured_arrays(3)  # grey vertex colours, a red | blue texture
    npz = tmp_path / "ball.npz"
    np.savez(npz, vertices=arrays.vertices, faces=arrays.faces, colors=arrays.colors, uvs=arrays.uvs, texture=arrays.texture)
    png = tmp_path / "compare.png"
    assert script.main([str(npz), str(png), "--compare", "--samples", "2", "--size", "48"]) == 0
    image = bpy.data.images.load(str(png))
    assert tuple(image.size) == (96, 48)
    px = np.empty(96 * 48 * 4, np.float32)
    image.pixels.foreach_get(px)
    px = px.reshape(48, 96, 4)
    vertex, texture = px[18:30, 18:30, :3].mean(axis=(0, 1)), px[18:30, 48 + 14 : 48 + 34, :3]
    assert abs(vertex[0] - vertex[2]) < 0.1  # grey: the vertex colours alone
    assert texture[..., 0].max() > 2 * texture[..., 2].min() and texture[..., 2].max() > 2 * texture[..., 0].min()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ball.npz", "compare.png"]
