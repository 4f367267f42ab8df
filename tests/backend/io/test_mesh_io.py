from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from latentdreamer.geometry.mesh import Mesh
from latentdreamer.io.mesh_io import (
    linear_to_srgb,
    load_mesh,
    read_glb_accessor,
    read_glb_document,
    save_mesh,
    srgb_to_linear,
)

EVAL_MESHES = Path(__file__).resolve().parents[3] / ".." / "shared" / "eval" / "meshes"


@pytest.fixture
def coloured_mesh() -> Mesh:
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.4)
    rng = np.random.default_rng(1)
    colors = rng.random((len(sphere.vertices), 4))
    colors[:4, :3] = [[0, 0, 0], [1, 1, 1], [0.01, 0.02, 0.03], [0.5, 0.5, 0.5]]  # darks lose most in 8-bit linear
    vertices = sphere.vertices + [0.05, -0.02, 0.1]
    return Mesh(vertices, sphere.faces, colors)


@pytest.mark.parametrize("fmt", ["glb", "ply", "obj"])
def test_round_trip(tmp_path, coloured_mesh, fmt):
    path = save_mesh(coloured_mesh, tmp_path / f"m.{fmt}")
    back = load_mesh(path)
    np.testing.assert_allclose(back.vertices, coloured_mesh.vertices, atol=1e-6)
    np.testing.assert_array_equal(back.faces, coloured_mesh.faces)
    channels = 3 if fmt == "obj" else 4  # OBJ's colour extension has no alpha
    assert np.abs(back.colors[:, :channels] - coloured_mesh.colors[:, :channels]).max() <= 1 / 255
    if fmt == "obj":
        np.testing.assert_array_equal(back.colors[:, 3], 1.0)


@pytest.mark.parametrize("fmt", ["glb", "ply", "obj"])
def test_round_trip_without_colours(tmp_path, coloured_mesh, fmt):
    plain = Mesh(coloured_mesh.vertices, coloured_mesh.faces)
    back = load_mesh(save_mesh(plain, tmp_path / f"m.{fmt}"))
    assert back.colors is None
    np.testing.assert_allclose(back.vertices, plain.vertices, atol=1e-6)
    np.testing.assert_array_equal(back.faces, plain.faces)


def test_glb_is_y_up_with_linear_colours_as_other_readers_see_it(tmp_path):
    vertices = np.array([[0, 0, 0.5], [0.3, 0, 0], [0, 0.2, 0]], np.float32)  # vertex 0 at +Z
    colors = np.array([[0.5, 0.2, 1.0, 1.0], [0, 0, 0, 1], [1, 1, 1, 0.5]], np.float32)
    path = save_mesh(Mesh(vertices, [[0, 1, 2]], colors), tmp_path / "up")
    assert path.suffix == ".glb"
    document, binary = read_glb_document(path)
    prim = document["meshes"][0]["primitives"][0]
    raw = read_glb_accessor(document, binary, prim["attributes"]["POSITION"])
    np.testing.assert_allclose(raw, [[0, 0.5, 0], [0.3, 0, 0], [0, 0, -0.2]], atol=1e-7)
    raw_colors = read_glb_accessor(document, binary, prim["attributes"]["COLOR_0"])
    np.testing.assert_allclose(raw_colors[0], [0.21404114, 0.03310477, 1.0, 1.0], atol=1e-6)  # sRGB 0.5 -> 0.214
    assert raw_colors[2, 3] == pytest.approx(0.5)  # alpha stays linear
    # An independent reader sees the same file.
    scene = trimesh.load_scene(path, process=False)
    geometry = next(iter(scene.geometry.values()))
    np.testing.assert_allclose(geometry.vertices, raw, atol=1e-7)
    np.testing.assert_allclose(geometry.visual.vertex_attributes["color"], raw_colors)


def test_srgb_linear_round_trip():
    c = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(c)), c, atol=1e-7)
    assert srgb_to_linear(np.array(0.5)) == pytest.approx(0.2140, abs=1e-4)


def test_format_from_argument_and_bad_inputs(tmp_path, coloured_mesh):
    path = save_mesh(coloured_mesh, tmp_path / "x.bin", file_format="ply")
    assert path.read_bytes().startswith(b"ply\nformat binary_little_endian")
    with pytest.raises(ValueError, match="unknown mesh format"):
        save_mesh(coloured_mesh, tmp_path / "x.stl")
    with pytest.raises(ValueError, match="empty"):
        save_mesh(Mesh(np.zeros((0, 3)), np.zeros((0, 3))), tmp_path / "e.glb")


def test_textured_glb_falls_back_to_texture_sampling_in_z_up(tmp_path):
    # Two-colour texture: left half red, right half blue; u < 0.5 for vertex 0 only.
    image = np.zeros((4, 8, 3), np.uint8)
    image[:, :4] = [255, 0, 0]
    image[:, 4:] = [0, 0, 255]
    file_vertices = np.array([[0, 0.5, 0], [0.3, 0, 0], [0, 0, -0.2]])  # glTF frame
    uv = np.array([[0.1, 0.5], [0.9, 0.5], [0.9, 0.5]])
    material = trimesh.visual.material.SimpleMaterial(image=Image.fromarray(image))
    visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    textured = trimesh.Trimesh(file_vertices, [[0, 1, 2]], visual=visual, process=False)
    path = tmp_path / "t.glb"
    textured.export(path)
    mesh = load_mesh(path)
    order = np.argsort(mesh.vertices[:, 0] + 2 * mesh.vertices[:, 2])  # the welded copy is re-ordered
    np.testing.assert_allclose(mesh.vertices[order], [[0, 0.2, 0], [0.3, 0, 0], [0, 0, 0.5]], atol=1e-6)
    np.testing.assert_allclose(mesh.colors[order][:, :3], [[0, 0, 1], [0, 0, 1], [1, 0, 0]], atol=1 / 255)


@pytest.mark.skipif(not EVAL_MESHES.is_dir(), reason=f"eval meshes not found at {EVAL_MESHES}")
def test_textured_eval_obj_gets_varied_vertex_colours_on_a_closed_surface():
    mesh = load_mesh(EVAL_MESHES / "cow_spot" / "spot.obj")
    assert mesh.colors is not None and mesh.colors.shape == (mesh.num_vertices, 4)
    assert mesh.colors[:, :3].std(axis=0).min() > 0.1  # Spot is black, white and pink
    assert np.unique(np.round(mesh.colors[:, :3], 2), axis=0).shape[0] > 20
    assert trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).is_watertight  # UV seams welded


def test_keep_texture_reads_the_image_and_corner_uvs_in_z_up(tmp_path):
    # The same two-colour file as above: kept, the texture itself comes back (not colours at
    # three vertices), with each corner's UV and the glTF frame turned Z up.
    image = np.zeros((4, 8, 3), np.uint8)
    image[:, :4] = [255, 0, 0]
    image[:, 4:] = [0, 0, 255]
    uv = np.array([[0.1, 0.5], [0.9, 0.5], [0.9, 0.5]])
    material = trimesh.visual.material.SimpleMaterial(image=Image.fromarray(image))
    textured = trimesh.Trimesh(
        [[0, 0.5, 0], [0.3, 0, 0], [0, 0, -0.2]], [[0, 1, 2]], visual=trimesh.visual.TextureVisuals(uv=uv, material=material)
    )
    path = tmp_path / "t.glb"
    textured.export(path)
    mesh = load_mesh(path, keep_texture=True)
    np.testing.assert_allclose(mesh.vertices[mesh.faces[0]], [[0, 0, 0.5], [0.3, 0, 0], [0, 0.2, 0]], atol=1e-6)
    np.testing.assert_allclose(mesh.uvs[0], uv, atol=1e-6)
    np.testing.assert_allclose(mesh.texture, image / 255.0, atol=1e-6)
    assert mesh.colors is None


def test_keep_texture_puts_two_materials_side_by_side_and_plain_files_keep_their_colours(tmp_path, coloured_mesh):
    parts = []
    for k, colour in enumerate(([255, 0, 0], [0, 255, 0])):
        image = Image.fromarray(np.full((4, 4, 3), colour, np.uint8))
        visual = trimesh.visual.TextureVisuals(
            uv=[[0, 0], [1, 0], [1, 1]], material=trimesh.visual.material.SimpleMaterial(image=image)
        )
        parts.append(trimesh.Trimesh([[k, 0, 0], [k + 1, 0, 0], [k + 1, 0, 1]], [[0, 1, 2]], visual=visual))
    path = tmp_path / "two.glb"
    trimesh.Scene(parts).export(path)
    mesh = load_mesh(path, keep_texture=True)
    assert mesh.texture.shape == (4, 8, 3)
    u = mesh.uvs[..., 0]
    assert sorted((round(float(u[f].min()), 3), round(float(u[f].max()), 3)) for f in range(2)) == [(0.0, 0.5), (0.5, 1.0)]
    plain = save_mesh(coloured_mesh, tmp_path / "plain.ply")
    kept = load_mesh(plain, keep_texture=True)
    assert kept.uvs is None and kept.colors is not None
