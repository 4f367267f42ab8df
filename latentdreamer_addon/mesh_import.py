"""Arrays from the backend -> a Blender mesh object, in bulk and on the main thread only.

Everything goes through `foreach_set` on whole numpy buffers: a per-vertex Python loop
would take seconds on a 100k-vertex result and freeze the UI. Indices are checked before
any Blender data is created, because Blender trusts `vertex_index` and a bad index in a
result file must become a clear error, not a corrupt mesh.

Colours arrive as 8-bit sRGB. They are stored in a BYTE_COLOR attribute through its
`color_srgb` accessor, which keeps the bytes exactly (a FLOAT_COLOR attribute would hold
linear values and need a conversion that rounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

COLOR_ATTRIBUTE = "Color"
MATERIAL_NAME = "LatentDreamer Vertex Colour"
CLAY_MATERIAL_NAME = "LatentDreamer Clay"
CLAY_COLOUR = (0.62, 0.6, 0.58, 1.0)
"""A light neutral grey: a result without colours should read as clay, not render near-black."""


@dataclass(frozen=True)
class MeshArrays:
    """A triangle mesh as the worker writes it (docs/design.md §4: object frame = Blender's)."""

    vertices: np.ndarray  # (V, 3) float32
    faces: np.ndarray  # (F, 3) int32
    colors: np.ndarray | None = None  # (V, 4) uint8 sRGB

    @classmethod
    def load(cls, path: str | Path) -> "MeshArrays":
        """Read a result/preview npz (keys `vertices`, `faces`, optional `colors`)."""
        with np.load(path, allow_pickle=False) as data:
            colors = data["colors"] if "colors" in data.files else None
            return cls(np.asarray(data["vertices"]), np.asarray(data["faces"]), colors)


@dataclass(frozen=True)
class ImportOptions:
    """What the user chose in the panel; 0 disables the face budget / remesh.

    `origin_bottom` puts the object's origin at the bottom centre of its bounds, so an object
    placed at the 3D cursor stands on it (the backend's meshes are centred on the origin).
    """

    target_size: float = 1.0
    face_budget: int = 0
    remesh_voxel_size: float = 0.0
    origin_bottom: bool = True


def validate(arrays: MeshArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return contiguous arrays of the exact dtypes Blender wants, or raise ValueError."""
    v = np.ascontiguousarray(arrays.vertices, dtype=np.float32)
    f = np.ascontiguousarray(arrays.faces)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must have shape (V, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {f.shape}")
    if not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"faces must be integers, got {f.dtype}")
    if not np.isfinite(v).all():
        raise ValueError("vertices contain NaN or infinite values")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"face indices must lie in [0, {len(v) - 1}], got [{f.min()}, {f.max()}]")
    # A triangle with a repeated corner has no area and makes Blender's mesh invalid.
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])].astype(np.int32, copy=False)
    c = arrays.colors
    if c is not None:
        c = np.asarray(c)
        if c.shape != (len(v), 4):
            raise ValueError(f"colors must have shape ({len(v)}, 4), got {c.shape}")
        if c.dtype != np.uint8:
            raise ValueError(f"colors must be uint8 sRGB, got {c.dtype}")
    return v, f, c


def place_vertices(v: np.ndarray, target_size: float = 0.0, origin_bottom: bool = False) -> np.ndarray:
    """Scale so the longest side is `target_size` (0 = as is), then, with `origin_bottom`,
    shift so the bounds' bottom centre is the origin.

    Done on the vertices (not the object) so the object keeps scale 1 and its location is
    where it stands, which sculpting, modifiers such as Remesh and snapping expect.
    """
    if not len(v):
        return v
    if target_size > 0:
        extent = float((v.max(axis=0) - v.min(axis=0)).max())
        if extent > 0:
            v = v * np.float32(target_size / extent)
    if origin_bottom:
        lo, hi = v.min(axis=0), v.max(axis=0)
        v = v - np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]], dtype=np.float32)
    return v


def build_mesh(name: str, arrays: MeshArrays, target_size: float = 0.0, origin_bottom: bool = False) -> bpy.types.Mesh:
    """A new smooth-shaded mesh datablock, placed by `place_vertices`."""
    v, f, c = validate(arrays)
    v = place_vertices(v, target_size, origin_bottom)
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(v))
    mesh.vertices.foreach_set("co", v.ravel())
    mesh.loops.add(f.size)
    mesh.loops.foreach_set("vertex_index", f.ravel())
    mesh.polygons.add(len(f))
    mesh.polygons.foreach_set("loop_start", np.arange(0, f.size, 3, dtype=np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(f), dtype=bool))
    mesh.update(calc_edges=True)
    if c is not None:
        attr = mesh.color_attributes.new(COLOR_ATTRIBUTE, "BYTE_COLOR", "POINT")
        attr.data.foreach_set("color_srgb", (c.astype(np.float32) / 255.0).ravel())
        mesh.color_attributes.active_color = attr
        mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index
    return mesh


def _use_nodes(mat: bpy.types.Material) -> None:
    """Node materials: an opt-in before Blender 5.0, always on (and the switch deprecated) since."""
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True


def vertex_colour_material() -> bpy.types.Material:
    """One shared material that shows the colour attribute in Material and Rendered views.

    Its viewport colour is neutral; Solid view shows the colours when the view's colour type
    is Attribute (a view setting, see `show_colours_in_solid_view`).
    """
    mat = bpy.data.materials.get(MATERIAL_NAME)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(MATERIAL_NAME)
    _use_nodes(mat)
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    attr = nodes.new("ShaderNodeVertexColor")
    attr.layer_name = COLOR_ATTRIBUTE
    attr.location = (bsdf.location.x - 300, bsdf.location.y)
    links.new(attr.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.8
    return mat


def clay_material() -> bpy.types.Material:
    """The material of a result without colours (Texture off): plain light grey everywhere."""
    mat = bpy.data.materials.get(CLAY_MATERIAL_NAME)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(CLAY_MATERIAL_NAME)
    mat.diffuse_color = CLAY_COLOUR
    _use_nodes(mat)
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = CLAY_COLOUR
    bsdf.inputs["Roughness"].default_value = 0.8
    return mat


def material_for(mesh: bpy.types.Mesh) -> bpy.types.Material:
    """Vertex colours where the mesh has them, else clay (a colour node on a missing
    attribute reads black)."""
    return vertex_colour_material() if COLOR_ATTRIBUTE in mesh.color_attributes else clay_material()


def _apply_modifiers(obj: bpy.types.Object) -> None:
    """Bake the object's modifier stack into its mesh without operators (no context needed)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    baked = bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph))
    old = obj.data
    obj.modifiers.clear()
    name = old.name
    obj.data = baked
    if old.users == 0:
        bpy.data.meshes.remove(old)
    baked.name = name


def decimate(obj: bpy.types.Object, face_budget: int) -> None:
    """Collapse-decimate to at most `face_budget` triangles (colours are interpolated)."""
    faces = len(obj.data.polygons)
    if face_budget <= 0 or faces <= face_budget:
        return
    mod = obj.modifiers.new("LatentDreamer Decimate", "DECIMATE")
    mod.decimate_type = "COLLAPSE"
    mod.ratio = face_budget / faces
    mod.use_collapse_triangulate = True
    _apply_modifiers(obj)


def voxel_remesh(obj: bpy.types.Object, voxel_size: float) -> None:
    """Voxel-remesh into an even quad-dominant manifold surface and carry the colours over.

    The remesher drops attributes, so a copy of the original mesh is kept as the source of a
    Data Transfer modifier (nearest face, interpolated). That modifier only fills layers that
    already exist, so the remesh is baked first and an empty colour layer added before it.
    """
    if voxel_size <= 0:
        return
    source_mesh = obj.data.copy()
    source = bpy.data.objects.new(obj.name + " (colour source)", source_mesh)
    source.matrix_world = obj.matrix_world
    bpy.context.scene.collection.objects.link(source)
    try:
        remesh = obj.modifiers.new("LatentDreamer Remesh", "REMESH")
        remesh.mode = "VOXEL"
        remesh.voxel_size = voxel_size
        remesh.use_smooth_shade = True
        _apply_modifiers(obj)
        if COLOR_ATTRIBUTE in source_mesh.color_attributes:
            obj.data.color_attributes.new(COLOR_ATTRIBUTE, "BYTE_COLOR", "POINT")
            transfer = obj.modifiers.new("LatentDreamer Colours", "DATA_TRANSFER")
            transfer.object = source
            transfer.use_object_transform = True
            transfer.use_vert_data = True
            transfer.data_types_verts = {"COLOR_VERTEX"}
            transfer.vert_mapping = "POLYINTERP_NEAREST"
            transfer.layers_vcol_vert_select_src = "ALL"
            transfer.layers_vcol_vert_select_dst = "NAME"
            _apply_modifiers(obj)
    finally:
        bpy.data.objects.remove(source)
        bpy.data.meshes.remove(source_mesh)
    mesh = obj.data
    if COLOR_ATTRIBUTE in mesh.color_attributes:
        mesh.color_attributes.active_color = mesh.color_attributes[COLOR_ATTRIBUTE]
        mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index


def finish_mesh(obj: bpy.types.Object, options: ImportOptions) -> None:
    """The optional clean-up the user asked for: face budget, then sculpt-ready remesh."""
    decimate(obj, options.face_budget)
    voxel_remesh(obj, options.remesh_voxel_size)
    obj.data.materials.clear()
    obj.data.materials.append(material_for(obj.data))


def create_object(
    name: str,
    arrays: MeshArrays,
    location: tuple[float, float, float] = (0.0, 0.0, 0.0),
    options: ImportOptions = ImportOptions(),
    collection: bpy.types.Collection | None = None,
) -> bpy.types.Object:
    """A new object at `location` (the 3D cursor for interactive use), linked and finished."""
    mesh = build_mesh(name, arrays, options.target_size, options.origin_bottom)
    obj = bpy.data.objects.new(name, mesh)
    obj.location = location
    (collection or bpy.context.scene.collection).objects.link(obj)
    finish_mesh(obj, options)
    return obj


def replace_mesh(obj: bpy.types.Object, arrays: MeshArrays, options: ImportOptions = ImportOptions()) -> None:
    """Swap the object's mesh for new arrays (live preview); the old datablock is freed."""
    old = obj.data
    name = old.name
    mesh = build_mesh(name, arrays, options.target_size, options.origin_bottom)
    mesh.materials.append(material_for(mesh))
    obj.data = mesh
    if old.users == 0:
        bpy.data.meshes.remove(old)
    mesh.name = name


def undo_push(message: str) -> None:
    """Make the import one undo step where an undo stack exists (not in `blender -b`)."""
    try:
        if bpy.ops.ed.undo_push.poll():
            bpy.ops.ed.undo_push(message=message)
    except RuntimeError:
        pass


def show_colours_in_solid_view(screens=None) -> int:
    """Set Solid 3D views to colour by attribute, so the result shows its colours without a
    trip to the shading popover; returns how many views changed.

    Only views still on the default ("Material") colouring change: a view the artist set to
    another colouring (random, single, texture) is theirs. `screens` defaults to every
    screen of the file (workspaces keep their own views).
    """
    changed = 0
    for screen in bpy.data.screens if screens is None else screens:
        for area in screen.areas:
            if area.type != "VIEW_3D":
                continue
            for space in area.spaces:
                if space.type == "VIEW_3D" and space.shading.type == "SOLID" and space.shading.color_type == "MATERIAL":
                    space.shading.color_type = "VERTEX"
                    changed += 1
    return changed
