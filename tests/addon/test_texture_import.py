"""A result with a baked texture: UV map, packed image, texture material, Solid-view texture
colouring, and the face budget / voxel remesh / QuadriFlow keeping the colours."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from latentdreamer_addon import mesh_import
from latentdreamer_addon.mesh_import import ImportOptions, MeshArrays

from test_mesh_import import icosphere_arrays

RED, BLUE = (230, 20, 20), (20, 20, 230)


def textured_arrays(subdivisions: int = 3) -> MeshArrays:
    """An icosphere whose UVs are its x and z (u = x + 0.5, v = z + 0.5) on a texture that is
    red on the left half (u < 0.5) and blue on the right, with grey vertex colours: so any
    colour seen afterwards came from the texture, and x < 0 must stay red."""
    base = icosphere_arrays(subdivisions)
    corners = base.vertices[base.faces.reshape(-1)]
    uvs = np.stack([corners[:, 0] + 0.5, corners[:, 2] + 0.5], axis=1).astype(np.float32)
    texture = np.zeros((64, 64, 3), np.uint8)
    texture[:, :32] = RED
    texture[:, 32:] = BLUE
    texture[:8, :8] = (0, 255, 0)  # top-left marker: row 0 of the array is the top (v = 1)
    grey = np.full((len(base.vertices), 4), 128, np.uint8)
    return MeshArrays(base.vertices, base.faces, grey, uvs, texture)


def vertex_colours(mesh) -> np.ndarray:
    attr = mesh.color_attributes[mesh_import.COLOR_ATTRIBUTE]
    out = np.empty(len(mesh.vertices) * 4, np.float32)
    attr.data.foreach_get("color_srgb", out)
    return out.reshape(-1, 4)


def positions(mesh) -> np.ndarray:
    out = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", out)
    return out.reshape(-1, 3)


def assert_left_red_right_blue(mesh):
    colours, co = vertex_colours(mesh), positions(mesh)
    left, right = colours[co[:, 0] < -0.15], colours[co[:, 0] > 0.15]
    assert len(left) and len(right)
    assert (left[:, 0] > 0.6).mean() > 0.95 and (left[:, 2] < 0.3).mean() > 0.95
    assert (right[:, 2] > 0.6).mean() > 0.95 and (right[:, 0] < 0.3).mean() > 0.95


def test_import_makes_uvs_a_packed_image_and_a_texture_material(clean_file, tmp_path):
    arrays = textured_arrays()
    obj = mesh_import.create_object("tex", arrays, options=ImportOptions(target_size=0.0, origin_bottom=False))
    mesh = obj.data
    assert mesh_import.UV_MAP in mesh.uv_layers
    uv = np.empty(len(mesh.loops) * 2, np.float32)
    mesh.uv_layers[mesh_import.UV_MAP].data.foreach_get("uv", uv)
    np.testing.assert_allclose(uv.reshape(-1, 2), arrays.uvs, atol=1e-6)
    image = mesh_import.mesh_texture(mesh)
    assert image is not None and tuple(image.size) == (64, 64) and image.packed_file is not None
    px = np.empty(64 * 64 * 4, np.float32)
    image.pixels.foreach_get(px)
    px = px.reshape(64, 64, 4)
    assert px[-1, 0, 1] > 0.9 and px[-1, 0, 0] < 0.1  # the green marker is at the top (Blender's last row)
    mat = mesh.materials[0]
    assert mat.name.startswith(mesh_import.TEXTURE_MATERIAL_PREFIX)
    tex = mat.node_tree.nodes.active
    assert tex.type == "TEX_IMAGE" and tex.image == image  # what Solid view's Texture colouring shows
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    assert bsdf.inputs["Base Color"].links[0].from_node == tex
    assert mesh_import.COLOR_ATTRIBUTE in mesh.color_attributes  # the vertex colours stay too
    # The image lives in the .blend: it survives a save and reload without the result folder.
    path = str(tmp_path / "saved.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    reloaded = mesh_import.mesh_texture(bpy.data.objects["tex"].data)
    assert reloaded is not None and reloaded.packed_file is not None and tuple(reloaded.size) == (64, 64)


def test_solid_views_switch_to_texture_colouring(clean_file):
    bpy.ops.wm.read_factory_settings()
    views = [
        s
        for scr in bpy.data.screens
        for a in scr.areas
        if a.type == "VIEW_3D"
        for s in a.spaces
        if s.type == "VIEW_3D" and s.shading.type == "SOLID"
    ]
    default = [v for v in views if v.shading.color_type == "MATERIAL"]
    assert default
    assert mesh_import.show_colours_in_solid_view(color_type="TEXTURE") == len(default)
    assert all(v.shading.color_type == "TEXTURE" for v in default)


def test_face_budget_keeps_the_uvs_and_the_texture(clean_file):
    arrays = textured_arrays()
    obj = mesh_import.create_object("dec", arrays, options=ImportOptions(target_size=0.0, origin_bottom=False, face_budget=300))
    mesh = obj.data
    assert len(mesh.polygons) <= 300
    assert mesh_import.mesh_texture(mesh) is not None
    assert mesh.materials[0].name.startswith(mesh_import.TEXTURE_MATERIAL_PREFIX)
    # UVs still follow the surface: u = x + 0.5 at every corner, as before the collapse.
    uv = np.empty(len(mesh.loops) * 2, np.float32)
    mesh.uv_layers[mesh_import.UV_MAP].data.foreach_get("uv", uv)
    corner = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", corner)
    np.testing.assert_allclose(uv.reshape(-1, 2)[:, 0], positions(mesh)[corner, 0] + 0.5, atol=0.03)


@pytest.mark.parametrize(
    "options",
    [
        ImportOptions(target_size=0.0, origin_bottom=False, remesh_voxel_size=0.04),
        ImportOptions(target_size=0.0, origin_bottom=False, quad_faces=800),
    ],
    ids=["voxel", "quadriflow"],
)
def test_remeshes_turn_the_texture_into_vertex_colours(clean_file, options):
    obj = mesh_import.create_object("re", textured_arrays(), options=options)
    mesh = obj.data
    assert len(mesh.uv_layers) == 0 and mesh_import.mesh_texture(mesh) is None
    assert mesh.materials[0].name == mesh_import.MATERIAL_NAME
    assert_left_red_right_blue(mesh)
    assert not mesh.validate()
    import bmesh

    bm = bmesh.new()
    bm.from_mesh(mesh)
    assert all(e.is_manifold for e in bm.edges)  # closed: every edge has two faces
    if options.quad_faces:
        assert all(len(f.verts) == 4 for f in bm.faces)
        assert 0.5 * options.quad_faces < len(bm.faces) < 2 * options.quad_faces
    bm.free()


def test_quadriflow_keeps_vertex_colours_of_an_untextured_result(clean_file):
    arrays = icosphere_arrays(3)
    obj = mesh_import.create_object("q", arrays, options=ImportOptions(target_size=0.0, origin_bottom=False, quad_faces=600))
    colours, co = vertex_colours(obj.data), positions(obj.data)
    # red grows with height in icosphere_arrays
    assert colours[co[:, 2] > 0.3, 0].mean() > 0.7 and colours[co[:, 2] < -0.3, 0].mean() < 0.3


def test_bad_uvs_are_a_clear_error(clean_file):
    arrays = textured_arrays(1)
    with pytest.raises(ValueError, match="one per face corner"):
        mesh_import.validate_texture(MeshArrays(arrays.vertices, arrays.faces, None, arrays.uvs[:-3], arrays.texture))
    with pytest.raises(ValueError, match="come together"):
        mesh_import.validate_texture(MeshArrays(arrays.vertices, arrays.faces, None, arrays.uvs, None))


def test_npz_with_uvs_and_texture_loads(tmp_path):
    arrays = textured_arrays(1)
    path = tmp_path / "r.npz"
    np.savez(path, vertices=arrays.vertices, faces=arrays.faces, colors=arrays.colors, uvs=arrays.uvs, texture=arrays.texture)
    loaded = MeshArrays.load(path)
    assert loaded.uvs.shape == (arrays.faces.size, 2) and loaded.texture.shape == (64, 64, 3)


_WRITE_GLB = """
import sys, numpy as np, trimesh
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.io.mesh_io import save_mesh
box = trimesh.creation.box(extents=(0.6, 0.6, 0.6))
corners = np.asarray(box.vertices, np.float32)[np.asarray(box.faces)]
uvs = np.stack([corners[..., 0] + 0.5, corners[..., 2] + 0.5], axis=-1)  # u = x + 0.5, v = z + 0.5
texture = np.zeros((16, 16, 3), np.float32)
texture[:, :8] = (0.9, 0.1, 0.1)
texture[:, 8:] = (0.1, 0.1, 0.9)
save_mesh(Mesh(box.vertices, box.faces, np.full((len(box.vertices), 4), 0.5), uvs=uvs, texture=texture), sys.argv[1])
"""


def test_blenders_gltf_importer_reads_the_backends_textured_glb(clean_file, tmp_path):
    import subprocess

    import addon_utils

    from addon_testing import backend_python

    python = backend_python()
    if python is None:
        pytest.skip("no backend Python (set LATENTDREAMER_BACKEND_PYTHON) to write the GLB")
    path = tmp_path / "box.glb"
    subprocess.run([python, "-c", _WRITE_GLB, str(path)], check=True)
    addon_utils.enable("io_scene_gltf2", default_set=True)
    assert "FINISHED" in bpy.ops.import_scene.gltf(filepath=str(path))
    (obj,) = [o for o in bpy.data.objects if o.type == "MESH"]
    mesh = obj.data
    assert len(mesh.uv_layers) == 1 and len(mesh.polygons) == 12
    tex = next(n for n in mesh.materials[0].node_tree.nodes if n.type == "TEX_IMAGE")
    assert tuple(tex.image.size) == (16, 16)
    assert "_VERTEX_COLOR" in mesh.attributes  # the vertex colours came along as an attribute
    # glTF's +Y up came back to Blender's Z up, and the UVs still read u = x + 0.5, v = z + 0.5
    uv = np.empty(len(mesh.loops) * 2, np.float32)
    mesh.uv_layers[0].data.foreach_get("uv", uv)
    corner = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", corner)
    co = positions(mesh)[corner]
    np.testing.assert_allclose(uv.reshape(-1, 2), np.stack([co[:, 0] + 0.5, co[:, 2] + 0.5], axis=1), atol=1e-5)


def test_blenders_obj_importer_reads_the_backends_obj_mtl_and_png(clean_file, tmp_path):
    import subprocess

    from addon_testing import backend_python

    python = backend_python()
    if python is None:
        pytest.skip("no backend Python (set LATENTDREAMER_BACKEND_PYTHON) to write the OBJ")
    path = tmp_path / "box.obj"
    subprocess.run([python, "-c", _WRITE_GLB, str(path)], check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box.mtl", "box.obj", "box_texture.png"]
    assert "FINISHED" in bpy.ops.wm.obj_import(filepath=str(path))
    (obj,) = [o for o in bpy.data.objects if o.type == "MESH"]
    mesh = obj.data
    assert len(mesh.uv_layers) == 1 and len(mesh.color_attributes) == 1  # texture and vertex colours
    tex = next(n for n in mesh.materials[0].node_tree.nodes if n.type == "TEX_IMAGE")
    assert tuple(tex.image.size) == (16, 16)
