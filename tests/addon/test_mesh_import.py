from __future__ import annotations

import bpy
import numpy as np
import pytest

from latentdreamer_addon import mesh_import
from latentdreamer_addon.mesh_import import ImportOptions, MeshArrays


def icosphere_arrays(subdivisions: int = 2) -> MeshArrays:
    """A closed, outward-oriented sphere with a colour gradient, made by Blender itself."""
    import bmesh

    bm = bmesh.new()
    bmesh.ops.create_icosphere(bm, subdivisions=subdivisions, radius=0.5)
    v = np.array([x.co[:] for x in bm.verts], dtype=np.float32)
    f = np.array([[x.index for x in face.verts] for face in bm.faces], dtype=np.int32)
    bm.free()
    colors = np.zeros((len(v), 4), dtype=np.uint8)
    colors[:, 0] = np.round((v[:, 2] + 0.5) * 255).clip(0, 255)  # red grows with height
    colors[:, 1] = 40
    colors[:, 2] = 200
    colors[:, 3] = 255
    return MeshArrays(v, f, colors)


def test_import_counts_colours_material_and_orientation(clean_file):
    arrays = icosphere_arrays()
    bpy.context.scene.cursor.location = (1.0, 2.0, 3.0)
    obj = mesh_import.create_object(
        "chair", arrays, tuple(bpy.context.scene.cursor.location), ImportOptions(target_size=1.0, origin_bottom=False)
    )
    mesh = obj.data
    assert obj.name == "chair"
    assert len(mesh.vertices) == len(arrays.vertices)
    assert len(mesh.polygons) == len(arrays.faces)
    assert tuple(obj.location) == pytest.approx((1.0, 2.0, 3.0))
    # A vertex at +Z stays at +Z: the object frame is Blender's, no axis swap.
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    top = int(np.argmax(arrays.vertices[:, 2]))
    assert co[top, 2] == pytest.approx(co[:, 2].max())
    assert co[top, 2] > 0.45
    np.testing.assert_allclose(co, arrays.vertices, atol=1e-5)  # longest side was already 1
    # Colours: the active and render attribute, bytes kept exactly.
    attr = mesh.color_attributes.active_color
    assert attr.name == mesh_import.COLOR_ATTRIBUTE and attr.domain == "POINT" and attr.data_type == "BYTE_COLOR"
    assert mesh.color_attributes.render_color_index == mesh.color_attributes.active_color_index
    srgb = np.empty(len(mesh.vertices) * 4, dtype=np.float32)
    attr.data.foreach_get("color_srgb", srgb)
    np.testing.assert_array_equal(np.round(srgb * 255).astype(np.uint8).reshape(-1, 4), arrays.colors)
    # Material reads the colour attribute.
    mat = mesh.materials[0]
    node = next(n for n in mat.node_tree.nodes if n.type == "VERTEX_COLOR")
    assert node.layer_name == mesh_import.COLOR_ATTRIBUTE
    assert node.outputs["Color"].links[0].to_socket.name == "Base Color"
    assert all(p.use_smooth for p in mesh.polygons)
    # Normals point outward (consistent winding): the normal of every face points away from the centre.
    normals = np.empty(len(mesh.polygons) * 3, dtype=np.float32)
    mesh.polygons.foreach_get("normal", normals)
    centers = np.empty(len(mesh.polygons) * 3, dtype=np.float32)
    mesh.polygons.foreach_get("center", centers)
    assert (np.einsum("ij,ij->i", normals.reshape(-1, 3), centers.reshape(-1, 3)) > 0).all()


def test_target_size_scales_vertices_not_object(clean_file):
    obj = mesh_import.create_object("s", icosphere_arrays(1), options=ImportOptions(target_size=2.0))
    assert tuple(obj.scale) == (1.0, 1.0, 1.0)
    assert max(obj.dimensions) == pytest.approx(2.0, rel=1e-4)


def test_bad_indices_are_rejected_before_any_data_is_made(clean_file):
    arrays = icosphere_arrays(1)
    bad = MeshArrays(arrays.vertices, arrays.faces + len(arrays.vertices), arrays.colors)
    meshes = len(bpy.data.meshes)
    with pytest.raises(ValueError, match="face indices"):
        mesh_import.create_object("bad", bad)
    assert len(bpy.data.meshes) == meshes
    with pytest.raises(ValueError, match="colors"):
        mesh_import.validate(MeshArrays(arrays.vertices, arrays.faces, arrays.colors[:-1]))


def test_degenerate_triangles_are_dropped(clean_file):
    arrays = icosphere_arrays(1)
    faces = np.concatenate([arrays.faces, [[0, 0, 1], [2, 3, 2]]]).astype(np.int32)
    obj = mesh_import.create_object("deg", MeshArrays(arrays.vertices, faces, arrays.colors))
    assert len(obj.data.polygons) == len(arrays.faces)
    assert not obj.data.validate()  # nothing left for Blender to fix


def test_face_budget_decimates_and_keeps_colours(clean_file):
    arrays = icosphere_arrays(4)  # 1280 faces
    obj = mesh_import.create_object("d", arrays, options=ImportOptions(face_budget=1000))
    assert 0 < len(obj.data.polygons) <= 1000
    assert not obj.modifiers
    attr = obj.data.color_attributes.active_color
    assert attr is not None
    srgb = np.empty(len(obj.data.vertices) * 4, dtype=np.float32)
    attr.data.foreach_get("color_srgb", srgb)
    assert np.ptp(srgb.reshape(-1, 4)[:, 0]) > 0.8  # the red height gradient survived


def test_voxel_remesh_is_manifold_and_transfers_colours(clean_file):
    import bmesh

    arrays = icosphere_arrays(3)
    obj = mesh_import.create_object("r", arrays, options=ImportOptions(remesh_voxel_size=0.05, origin_bottom=False))
    assert not obj.modifiers
    assert "(colour source)" not in " ".join(o.name for o in bpy.data.objects)
    mesh = obj.data
    assert len(mesh.vertices) != len(arrays.vertices)
    bm = bmesh.new()
    bm.from_mesh(mesh)
    assert all(e.is_manifold for e in bm.edges)
    bm.free()
    attr = mesh.color_attributes.active_color
    srgb = np.empty(len(mesh.vertices) * 4, dtype=np.float32)
    attr.data.foreach_get("color_srgb", srgb)
    srgb = srgb.reshape(-1, 4)
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    z = co.reshape(-1, 3)[:, 2]
    # The colour follows height after the transfer, as on the source.
    expected = (z + 0.5).clip(0, 1)
    assert np.abs(srgb[:, 0] - expected).mean() < 0.05
    assert np.allclose(srgb[:, 2], 200 / 255, atol=0.02)


def test_replace_mesh_frees_the_old_datablock(clean_file):
    obj = mesh_import.create_object("p", icosphere_arrays(1))
    old = obj.data.name
    mesh_import.replace_mesh(obj, icosphere_arrays(2))
    assert len(obj.data.polygons) == 80
    assert obj.data.name == old
    assert len(bpy.data.meshes) == 1


def test_load_reads_npz(tmp_path):
    arrays = icosphere_arrays(1)
    path = tmp_path / "m.npz"
    np.savez(path, vertices=arrays.vertices, faces=arrays.faces, colors=arrays.colors)
    loaded = MeshArrays.load(path)
    np.testing.assert_array_equal(loaded.faces, arrays.faces)
    assert loaded.colors.dtype == np.uint8


def test_origin_at_the_bottom_centre_stands_the_object_on_the_cursor(clean_file):
    arrays = icosphere_arrays()
    obj = mesh_import.create_object("stand", arrays, (1.0, 2.0, 3.0), ImportOptions(target_size=2.0))
    co = np.empty(len(obj.data.vertices) * 3, dtype=np.float32)
    obj.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    assert co[:, 2].min() == pytest.approx(0.0, abs=1e-6)  # the bottom touches the origin
    assert (co.max(0) + co.min(0))[:2] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert float((co.max(0) - co.min(0)).max()) == pytest.approx(2.0, rel=1e-5)
    assert tuple(obj.location) == pytest.approx((1.0, 2.0, 3.0))


def test_without_colours_the_object_is_clay_not_black(clean_file):
    arrays = icosphere_arrays()
    obj = mesh_import.create_object("plain", MeshArrays(arrays.vertices, arrays.faces, None))
    (mat,) = obj.data.materials
    assert mat.name == mesh_import.CLAY_MATERIAL_NAME
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    assert min(bsdf.inputs["Base Color"].default_value[:3]) > 0.5
    assert not [n for n in mat.node_tree.nodes if n.type == "VERTEX_COLOR"]
    coloured = mesh_import.create_object("coloured", arrays)
    assert coloured.data.materials[0].name == mesh_import.MATERIAL_NAME


def test_solid_views_show_the_colours_unless_the_artist_chose_otherwise(clean_file):
    bpy.ops.wm.read_factory_settings()  # the default file: workspaces with 3D views
    views = [s for scr in bpy.data.screens for a in scr.areas if a.type == "VIEW_3D" for s in a.spaces if s.type == "VIEW_3D"]
    assert views
    views[0].shading.color_type = "RANDOM"  # the artist's own choice is kept
    solid_default = [v for v in views[1:] if v.shading.type == "SOLID" and v.shading.color_type == "MATERIAL"]
    assert mesh_import.show_colours_in_solid_view() == len(solid_default)
    assert views[0].shading.color_type == "RANDOM"
    assert all(v.shading.color_type == "VERTEX" for v in solid_default)
