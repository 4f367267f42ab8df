"""Arrays from the backend -> a Blender mesh object, in bulk and on the main thread only.

Everything goes through `foreach_set` on whole numpy buffers: a per-vertex Python loop
would take seconds on a 100k-vertex result and freeze the UI. Indices are checked before
any Blender data is created, because Blender trusts `vertex_index` and a bad index in a
result file must become a clear error, not a corrupt mesh.

Colours arrive as 8-bit sRGB. They are stored in a BYTE_COLOR attribute through its
`color_srgb` accessor, which keeps the bytes exactly (a FLOAT_COLOR attribute would hold
linear values and need a conversion that rounds).

A baked texture arrives as one UV per face corner and an 8-bit sRGB image. The image is
packed into the .blend (the result folder is temporary) and shown by a per-object material;
the vertex colours stay as a second source. Modifiers that rebuild the surface (voxel remesh,
QuadriFlow) lose UVs, so there the texture is sampled at the nearest point of the original
surface into the new mesh's vertex colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

COLOR_ATTRIBUTE = "Color"
UV_MAP = "UVMap"
TEXTURE_PROPERTY = "latentdreamer_texture"
"""Mesh custom property pointing at the result's image, so the material follows the mesh."""
TEXTURE_MATERIAL_PREFIX = "LatentDreamer Texture"
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
    uvs: np.ndarray | None = None  # (3F, 2) float32, one per face corner, v up
    texture: np.ndarray | None = None  # (H, W, 3) uint8 sRGB, row 0 at the top

    @classmethod
    def load(cls, path: str | Path) -> MeshArrays:
        """Read a result/preview npz (keys `vertices`, `faces`, optional `colors`, `uvs` + `texture`)."""
        with np.load(path, allow_pickle=False) as data:
            get = lambda key: np.asarray(data[key]) if key in data.files else None  # noqa: E731
            return cls(np.asarray(data["vertices"]), np.asarray(data["faces"]), get("colors"), get("uvs"), get("texture"))


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
    quad_faces: int = 0
    """QuadriFlow quad remesh to about this many faces (0: off), after the other two."""


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


def validate_texture(arrays: MeshArrays) -> tuple[np.ndarray, np.ndarray] | None:
    """(F', 3, 2) UVs of the faces `validate` keeps and the (H, W, 3) uint8 image, or None
    without a texture; ValueError for arrays that do not fit the mesh."""
    if arrays.uvs is None and arrays.texture is None:
        return None
    if arrays.uvs is None or arrays.texture is None:
        raise ValueError("uvs and texture come together; the file has only one of them")
    f = np.asarray(arrays.faces)
    uv = np.asarray(arrays.uvs, dtype=np.float32)
    if uv.shape != (f.size, 2):
        raise ValueError(f"uvs must have shape ({f.size}, 2), one per face corner, got {uv.shape}")
    if not np.isfinite(uv).all():
        raise ValueError("uvs contain NaN or infinite values")
    image = np.asarray(arrays.texture)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
        raise ValueError(f"texture must be an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])
    return uv.reshape(-1, 3, 2)[keep], image


def texture_image(name: str, pixels: np.ndarray) -> bpy.types.Image:
    """A packed sRGB image from (H, W, 3) uint8 rows top first (Blender's rows start at the bottom)."""
    h, w = pixels.shape[:2]
    image = bpy.data.images.new(name, w, h, alpha=False)
    image.colorspace_settings.name = "sRGB"
    rgba = np.ones((h, w, 4), dtype=np.float32)
    rgba[..., :3] = pixels[::-1].astype(np.float32) / 255.0
    image.pixels.foreach_set(rgba.ravel())
    image.pack()
    return image


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
    textured = validate_texture(arrays)
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
    if textured is not None:
        uvs, pixels = textured
        layer = mesh.uv_layers.new(name=UV_MAP)
        layer.data.foreach_set("uv", uvs.ravel())
        mesh[TEXTURE_PROPERTY] = texture_image(f"{name} texture", pixels)
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


def mesh_texture(mesh: bpy.types.Mesh) -> bpy.types.Image | None:
    """The baked image of a mesh that still has its UVs, else None."""
    image = mesh.get(TEXTURE_PROPERTY)
    return image if isinstance(image, bpy.types.Image) and len(mesh.uv_layers) else None


def texture_material(image: bpy.types.Image) -> bpy.types.Material:
    """A material per baked image: Image Texture -> Base Color on the UV map. The texture node
    is the active one, which is what Solid view's Texture colouring shows."""
    name = f"{TEXTURE_MATERIAL_PREFIX} {image.name}"
    mat = bpy.data.materials.get(name)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(name)
    _use_nodes(mat)
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = image
    tex.interpolation = "Linear"
    tex.location = (bsdf.location.x - 320, bsdf.location.y)
    uv = nodes.new("ShaderNodeUVMap")
    uv.uv_map = UV_MAP
    uv.location = (tex.location.x - 220, tex.location.y)
    links.new(uv.outputs["UV"], tex.inputs["Vector"])
    links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.8
    nodes.active = tex
    return mat


def material_for(mesh: bpy.types.Mesh) -> bpy.types.Material:
    """The baked texture where the mesh has one, vertex colours where it has them, else clay
    (a colour node on a missing attribute reads black)."""
    image = mesh_texture(mesh)
    if image is not None:
        return texture_material(image)
    return vertex_colour_material() if COLOR_ATTRIBUTE in mesh.color_attributes else clay_material()


def _apply_modifiers(obj: bpy.types.Object) -> None:
    """Bake the object's modifier stack into its mesh without operators (no context needed)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    baked = bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph))
    old = obj.data
    image = old.get(TEXTURE_PROPERTY)
    if image is not None and len(baked.uv_layers):
        baked[TEXTURE_PROPERTY] = image  # custom properties do not survive new_from_object
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
    """Voxel-remesh into an even quad-dominant manifold surface and carry the colours over."""
    if voxel_size <= 0:
        return

    def remesh(target: bpy.types.Object) -> None:
        mod = target.modifiers.new("LatentDreamer Remesh", "REMESH")
        mod.mode = "VOXEL"
        mod.voxel_size = voxel_size
        mod.use_smooth_shade = True
        _apply_modifiers(target)

    rebuild_keeping_colours(obj, remesh)


def quad_remesh(obj: bpy.types.Object, faces: int) -> None:
    """QuadriFlow (Blender's own) to about `faces` quads: an all-quad manifold surface with
    flowing edge loops, for sculpting and retopology; colours carried over.

    QuadriFlow needs a manifold input (our results are closed) and an object context; it is
    run through a context override so it works from a timer and in `blender -b` alike.
    """
    if faces <= 0:
        return

    def remesh(target: bpy.types.Object) -> None:
        before = len(target.data.polygons)
        override = {
            "object": target,
            "active_object": target,
            "selected_objects": [target],
            "selected_editable_objects": [target],
        }
        with bpy.context.temp_override(**override):
            result = bpy.ops.object.quadriflow_remesh(
                mode="FACES",
                target_faces=int(faces),
                use_preserve_sharp=False,
                use_preserve_boundary=False,
                preserve_attributes=False,
                smooth_normals=True,
                seed=0,
            )
        if "FINISHED" not in result or len(target.data.polygons) == 0 or len(target.data.polygons) == before:
            raise RuntimeError(
                "QuadriFlow could not remesh this object (it needs a closed, manifold mesh); "
                "try without the Face Budget, or use the voxel remesh first"
            )
        for polygon in target.data.polygons:
            polygon.use_smooth = True

    rebuild_keeping_colours(obj, remesh)


def rebuild_keeping_colours(obj: bpy.types.Object, rebuild) -> None:
    """Run `rebuild(obj)` (a remesher that drops attributes) and put the colours back.

    A copy of the original mesh is the colour source. With a baked texture, each new vertex
    takes the texture's colour at the nearest point of the original surface (UVs cannot
    survive a remesh: new faces straddle the charts' seams); otherwise a Data Transfer
    modifier (nearest face, interpolated) copies the vertex colours. That modifier only
    fills layers that already exist, so the rebuild comes first and an empty layer before it.
    """
    source_mesh = obj.data.copy()
    source = bpy.data.objects.new(obj.name + " (colour source)", source_mesh)
    source.matrix_world = obj.matrix_world
    bpy.context.scene.collection.objects.link(source)
    image = mesh_texture(source_mesh)
    try:
        rebuild(obj)
        if image is not None:
            colours = colours_from_texture(obj.data, source_mesh, image)
            attr = obj.data.color_attributes.new(COLOR_ATTRIBUTE, "BYTE_COLOR", "POINT")
            attr.data.foreach_set("color_srgb", colours.ravel())
        elif COLOR_ATTRIBUTE in source_mesh.color_attributes:
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
    if TEXTURE_PROPERTY in mesh.keys():
        del mesh[TEXTURE_PROPERTY]  # the UVs are gone; the vertex colours now carry the texture
    if COLOR_ATTRIBUTE in mesh.color_attributes:
        mesh.color_attributes.active_color = mesh.color_attributes[COLOR_ATTRIBUTE]
        mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index


def colours_from_texture(target: bpy.types.Mesh, source: bpy.types.Mesh, image: bpy.types.Image) -> np.ndarray:
    """(V, 4) sRGB colours of the target's vertices: the source's texture (bilinear) at the
    nearest point of the source surface. Both meshes in the same object space."""
    from mathutils.bvhtree import BVHTree

    source.calc_loop_triangles()
    tris = np.empty(len(source.loop_triangles) * 3, dtype=np.int32)
    source.loop_triangles.foreach_get("vertices", tris)
    loops = np.empty(len(source.loop_triangles) * 3, dtype=np.int32)
    source.loop_triangles.foreach_get("loops", loops)
    tris, loops = tris.reshape(-1, 3), loops.reshape(-1, 3)
    src_co = np.empty(len(source.vertices) * 3, dtype=np.float32)
    source.vertices.foreach_get("co", src_co)
    src_co = src_co.reshape(-1, 3)
    uv = np.empty(len(source.loops) * 2, dtype=np.float32)
    source.uv_layers[UV_MAP if UV_MAP in source.uv_layers else 0].data.foreach_get("uv", uv)
    uv = uv.reshape(-1, 2)
    tree = BVHTree.FromPolygons(src_co.tolist(), tris.tolist())
    co = np.empty(len(target.vertices) * 3, dtype=np.float32)
    target.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    points = np.zeros_like(co)
    faces = np.zeros(len(co), dtype=np.int64)
    for i, p in enumerate(co.tolist()):
        location, _, index, _ = tree.find_nearest(p)
        if index is not None:
            points[i], faces[i] = location, index
    a, b, c = (src_co[tris[faces, k]] for k in range(3))
    v0, v1, v2 = b - a, c - a, points - a
    d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
    d20, d21 = (v2 * v0).sum(1), (v2 * v1).sum(1)
    denom = np.where(np.abs(d00 * d11 - d01 * d01) > 1e-20, d00 * d11 - d01 * d01, 1.0)
    wb = np.clip((d11 * d20 - d01 * d21) / denom, 0, 1)
    wc = np.clip((d00 * d21 - d01 * d20) / denom, 0, 1 - wb)
    wa = 1 - wb - wc
    at = wa[:, None] * uv[loops[faces, 0]] + wb[:, None] * uv[loops[faces, 1]] + wc[:, None] * uv[loops[faces, 2]]
    w, h = image.size
    pixels = np.empty(w * h * 4, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    pixels = pixels.reshape(h, w, 4)  # row 0 at the bottom, as Blender's UV v
    x = np.clip(at[:, 0] * w - 0.5, 0, w - 1)
    y = np.clip(at[:, 1] * h - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = pixels[y0, x0] * (1 - fx) + pixels[y0, x1] * fx
    bottom = pixels[y1, x0] * (1 - fx) + pixels[y1, x1] * fx
    colours = top * (1 - fy) + bottom * fy
    colours[:, 3] = 1.0
    return np.ascontiguousarray(colours, dtype=np.float32)


def finish_mesh(obj: bpy.types.Object, options: ImportOptions) -> None:
    """The optional clean-up the user asked for: face budget, then sculpt-ready remesh, then
    quad remesh. Decimation keeps the UVs (it interpolates them); the remeshes turn the
    texture into vertex colours."""
    decimate(obj, options.face_budget)
    voxel_remesh(obj, options.remesh_voxel_size)
    quad_remesh(obj, options.quad_faces)
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


def show_colours_in_solid_view(screens=None, color_type: str = "VERTEX") -> int:
    """Set Solid 3D views to colour by attribute, so the result shows its colours without a
    trip to the shading popover; returns how many views changed.

    `color_type` is "VERTEX" (colour attribute) or "TEXTURE" (a baked result's image).
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
                    space.shading.color_type = color_type
                    changed += 1
    return changed
