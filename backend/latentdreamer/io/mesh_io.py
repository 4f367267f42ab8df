"""Mesh files: GLB (default), PLY and OBJ with per-vertex colours; textured OBJ/glTF in.

Frames and colours: our object frame is Z up and `Mesh.colors` are sRGB. glTF is +Y up
with linear COLOR_0, so GLB export maps (x, y, z) -> (x, z, -y) and sRGB -> linear (RGB
only; alpha is never gamma-encoded), and import undoes both. PLY and OBJ are written in
our frame as they are (Blender's PLY importer reads them upright; its OBJ importer needs
"Up: Z"), with sRGB colours: PLY as uint8 RGBA, OBJ as the common `v x y z r g b`
extension (floats, no alpha).

GLB is written and read by our own small codec because trimesh stores glTF vertex colours
as 8-bit values without the linear/sRGB conversion, which loses dark tones; we store
float32 COLOR_0. Everything else (and GLBs with textures) is read through trimesh.
Textured meshes get colours by sampling their texture at each vertex's UV; files split
vertices along UV seams, so vertices at identical positions are merged and their
colours averaged, which gives back the closed surface.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import trimesh

from latentdreamer.errors import UserFacingError
from latentdreamer.geometry.mesh import Mesh

FORMATS = ("glb", "ply", "obj")

# glTF is +Y up: ours (x, y, z) is theirs (x, z, -y).
Z_UP_TO_Y_UP = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float64)

_GLB_MAGIC = b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
_FLOAT, _UINT32 = 5126, 5125
_COMPONENT_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def save_mesh(mesh: Mesh, path: str | Path, file_format: str | None = None) -> Path:
    """Write `mesh`; the format comes from `file_format` or the suffix (GLB when neither says)."""
    path = Path(path)
    fmt = (file_format or path.suffix.lstrip(".") or "glb").lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown mesh format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not path.suffix:
        path = path.with_suffix("." + fmt)
    if mesh.num_vertices == 0 or mesh.num_faces == 0:
        raise ValueError("cannot save an empty mesh")
    path.parent.mkdir(parents=True, exist_ok=True)
    {"glb": _write_glb, "ply": _write_ply, "obj": _write_obj}[fmt](mesh, path)
    return path


class MeshFileError(UserFacingError, ValueError):
    """A file that is not a mesh this backend can read: it names the file and says what works."""


def load_mesh(path: str | Path) -> Mesh:
    """Read any of our formats, or a textured OBJ/glTF/GLB, as a Mesh in the Z-up frame.

    A textured file's texture becomes vertex colours (a closed surface, seams welded); the
    texture itself, for rendering a file as it looks, is io/eval_meshes.load_textured_eval_mesh.
    Whatever is wrong with the file (not a mesh, no triangles, indices past the vertices,
    a glTF feature we do not read) is a MeshFileError naming it, never a traceback.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        mesh = _read_glb(path) if suffix == ".glb" else None
        if mesh is None:
            mesh = _read_with_trimesh(path, y_up=suffix in (".glb", ".gltf"))
        if mesh.num_faces and int(mesh.faces.max()) >= mesh.num_vertices:
            raise ValueError("a face refers to a vertex the file does not have")
    except MeshFileError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, struct.error, UnicodeDecodeError) as exc:
        raise MeshFileError(
            f"{path} is not a mesh this backend can read ({type(exc).__name__}: {exc})",
            "give a GLB, glTF, OBJ or PLY file with triangles",
        ) from exc
    return mesh


# --- GLB -------------------------------------------------------------------------------------


def _write_glb(mesh: Mesh, path: Path) -> None:
    if mesh.uvs is not None:
        _write_textured_glb(mesh, path)
        return
    positions = (mesh.vertices.astype(np.float64) @ Z_UP_TO_Y_UP.T).astype(np.float32)
    indices = mesh.faces.astype(np.uint32)
    blobs = [positions.tobytes(), indices.tobytes()]
    accessors = [
        {
            "bufferView": 0,
            "componentType": _FLOAT,
            "count": len(positions),
            "type": "VEC3",
            "min": positions.min(0).tolist(),
            "max": positions.max(0).tolist(),
        },
        {"bufferView": 1, "componentType": _UINT32, "count": indices.size, "type": "SCALAR"},
    ]
    attributes = {"POSITION": 0}
    if mesh.colors is not None:
        colors = mesh.colors.copy()
        colors[:, :3] = srgb_to_linear(colors[:, :3])
        blobs.append(colors.astype(np.float32).tobytes())
        accessors.append({"bufferView": 2, "componentType": _FLOAT, "count": len(colors), "type": "VEC4"})
        attributes["COLOR_0"] = 2
    views, offset = [], 0
    for i, blob in enumerate(blobs):
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob), "target": 34963 if i == 1 else 34962})
        offset += len(blob)  # every blob is a multiple of 4 bytes: float32 / uint32 data
    has_alpha = mesh.colors is not None and bool((mesh.colors[:, 3] < 1).any())
    primitive = {"attributes": attributes, "indices": 1, "mode": 4, "material": 0}
    material = {
        "name": "vertex_colors",
        "alphaMode": "BLEND" if has_alpha else "OPAQUE",
        "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0, "roughnessFactor": 1.0},
    }
    document = {
        "asset": {"version": "2.0", "generator": "latentdreamer"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": path.stem}],
        "meshes": [{"name": path.stem, "primitives": [primitive]}],
        "materials": [material],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": offset}],
    }
    write_glb_container(path, document, blobs)


def write_glb_container(path: str | Path, document: dict, blobs: list[bytes]) -> None:
    """The GLB file itself: header, the JSON chunk (space-padded to 4 bytes), the binary chunk
    (`blobs` are already 4-byte aligned by their buffer views)."""
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary = b"".join(blobs)
    with open(path, "wb") as f:
        f.write(_GLB_MAGIC + struct.pack("<II", 2, 12 + 8 + len(text) + 8 + len(binary)))
        f.write(struct.pack("<II", len(text), _CHUNK_JSON) + text)
        f.write(struct.pack("<II", len(binary), _CHUNK_BIN) + binary)


def read_glb_document(path: str | Path) -> tuple[dict, bytes]:
    """The JSON document and binary chunk of a GLB file (raw, in the file's +Y-up frame)."""
    data = Path(path).read_bytes()
    if data[:4] != _GLB_MAGIC:
        raise ValueError(f"{path} is not a GLB file")
    offset, document, binary = 12, None, b""
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from("<II", data, offset)
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == _CHUNK_JSON:
            document = json.loads(chunk)
        elif kind == _CHUNK_BIN:
            binary = chunk
        offset += 8 + length
    if document is None:
        raise ValueError(f"{path} has no JSON chunk")
    return document, binary


def read_glb_accessor(document: dict, binary: bytes, index: int) -> np.ndarray:
    """One accessor as a (count, components) array; normalised integers come back as floats."""
    acc = document["accessors"][index]
    if "sparse" in acc or "bufferView" not in acc:
        raise ValueError("sparse or view-less glTF accessors are not supported")
    view = document["bufferViews"][acc["bufferView"]]
    if view.get("buffer", 0) != 0 or "uri" in document["buffers"][0]:
        raise ValueError("only the GLB's embedded buffer is supported")
    dtype = np.dtype(_COMPONENT_DTYPES[acc["componentType"]]).newbyteorder("<")
    width = _TYPE_SIZES[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride") or width * dtype.itemsize
    count = acc["count"]
    raw = np.frombuffer(binary, dtype=np.uint8, count=(count - 1) * stride + width * dtype.itemsize, offset=start)
    rows = np.lib.stride_tricks.as_strided(raw, shape=(count, width * dtype.itemsize), strides=(stride, 1))
    values = np.ascontiguousarray(rows).view(dtype).reshape(count, width)
    if acc.get("normalized") and dtype.kind in "iu":
        return np.maximum(values / np.iinfo(dtype).max, -1.0)
    return values


def _node_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T  # stored column-major
    x, y, z, w = node.get("rotation", [0.0, 0.0, 0.0, 1.0])
    rot = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    m = np.eye(4)
    m[:3, :3] = rot * np.array(node.get("scale", [1.0, 1.0, 1.0]))
    m[:3, 3] = node.get("translation", [0.0, 0.0, 0.0])
    return m


def _read_glb(path: Path) -> Mesh | None:
    """Vertex-coloured GLBs; None when a primitive is textured (trimesh samples those)."""
    document, binary = read_glb_document(path)
    materials = document.get("materials", [])

    def textured(prim: dict) -> bool:
        mat = materials[prim["material"]] if "material" in prim else {}
        return "TEXCOORD_0" in prim["attributes"] and "baseColorTexture" in mat.get("pbrMetallicRoughness", {})

    scene = document.get("scenes", [{}])[document.get("scene", 0)] if document.get("scenes") else {}
    roots = scene.get("nodes", list(range(len(document.get("nodes", [])))))
    parts = []  # (vertices, faces, colours or None, base colour factor)
    stack = [(i, np.eye(4)) for i in roots]
    while stack:
        index, parent = stack.pop()
        node = document["nodes"][index]
        world = parent @ _node_matrix(node)
        stack.extend((child, world) for child in node.get("children", []))
        for prim in document["meshes"][node["mesh"]]["primitives"] if "mesh" in node else []:
            if prim.get("mode", 4) != 4:
                continue
            if textured(prim):
                return None
            verts = read_glb_accessor(document, binary, prim["attributes"]["POSITION"]).astype(np.float64)
            verts = verts @ world[:3, :3].T + world[:3, 3]
            if "indices" in prim:
                faces = read_glb_accessor(document, binary, prim["indices"]).reshape(-1, 3).astype(np.int64)
            else:
                faces = np.arange(len(verts)).reshape(-1, 3)
            if np.linalg.det(world[:3, :3]) < 0:
                faces = faces[:, ::-1]
            colors = None
            if "COLOR_0" in prim["attributes"]:
                colors = read_glb_accessor(document, binary, prim["attributes"]["COLOR_0"]).astype(np.float64)
                if colors.shape[1] == 3:
                    colors = np.concatenate([colors, np.ones((len(colors), 1))], axis=1)
            mat = materials[prim["material"]] if "material" in prim else {}
            factor = np.array(mat.get("pbrMetallicRoughness", {}).get("baseColorFactor", [1.0, 1.0, 1.0, 1.0]))
            parts.append((verts, faces, colors, factor))
    if not parts:
        raise ValueError(f"{path} holds no triangles")
    coloured = any(c is not None or not np.allclose(f, 1.0) for _, _, c, f in parts)
    vertices = np.concatenate([v for v, _, _, _ in parts]) @ Z_UP_TO_Y_UP  # back to Z up
    offsets = np.cumsum([0] + [len(v) for v, _, _, _ in parts[:-1]])
    faces = np.concatenate([f + o for (_, f, _, _), o in zip(parts, offsets, strict=True)])
    colors = None
    if coloured:
        linear = np.concatenate([(np.ones((len(v), 4)) if c is None else c) * f for v, _, c, f in parts])
        colors = np.concatenate([linear_to_srgb(linear[:, :3]), np.clip(linear[:, 3:], 0, 1)], axis=1)
    return Mesh(vertices, faces, colors)


# --- PLY and OBJ -----------------------------------------------------------------------------


def _write_ply(mesh: Mesh, path: Path) -> None:
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if mesh.colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1"), ("alpha", "u1")]
    vertices = np.empty(mesh.num_vertices, dtype=fields)
    for axis, name in enumerate("xyz"):
        vertices[name] = mesh.vertices[:, axis]
    if mesh.colors is not None:
        rgba = np.round(np.clip(mesh.colors, 0, 1) * 255).astype(np.uint8)
        for channel, name in enumerate(("red", "green", "blue", "alpha")):
            vertices[name] = rgba[:, channel]
    faces = np.empty(mesh.num_faces, dtype=[("n", "u1"), ("v", "<i4", (3,))])
    faces["n"] = 3
    faces["v"] = mesh.faces
    properties = "".join(f"property {'float' if t == '<f4' else 'uchar'} {name}\n" for name, t in fields)
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment latentdreamer (Z up, sRGB colours)\n"
        f"element vertex {mesh.num_vertices}\n{properties}"
        f"element face {mesh.num_faces}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(vertices.tobytes())
        f.write(faces.tobytes())


def _write_obj(mesh: Mesh, path: Path) -> None:
    if mesh.uvs is not None:
        _write_textured_obj(mesh, path)
        return
    with open(path, "w", encoding="ascii") as f:
        f.write("# latentdreamer (Z up; v x y z r g b with sRGB colours)\n")
        if mesh.colors is None:
            np.savetxt(f, mesh.vertices, fmt="v %.9g %.9g %.9g")
        else:
            np.savetxt(f, np.concatenate([mesh.vertices, mesh.colors[:, :3]], axis=1), fmt="v %.9g %.9g %.9g %.6f %.6f %.6f")
        np.savetxt(f, mesh.faces + 1, fmt="f %d %d %d")


# --- textured output: GLB with baseColorTexture, OBJ + MTL + PNG ------------------------------

TEXTURE_MATERIAL = "baked_texture"
VERTEX_COLOR_ATTRIBUTE = "_VERTEX_COLOR"
"""Where a textured GLB keeps the vertex colours. glTF multiplies COLOR_0 into the base colour
(texture x vertex colours would darken the bake), and custom attributes must start with an
underscore; Blender's glTF importer reads them as colour attributes, other viewers skip them."""


def _png_bytes(image: np.ndarray) -> bytes:
    import io

    from PIL import Image

    from latentdreamer.io.images import to_uint8

    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def _write_textured_glb(mesh: Mesh, path: Path) -> None:
    """Vertices split along UV seams (glTF has one UV per vertex), TEXCOORD_0 with glTF's v
    down, the PNG embedded, and the vertex colours as VERTEX_COLOR_ATTRIBUTE (linear)."""
    from latentdreamer.geometry.uv_unwrap import split_seams

    source, faces, uvs = split_seams(mesh.faces, mesh.uvs)
    positions = (mesh.vertices[source].astype(np.float64) @ Z_UP_TO_Y_UP.T).astype(np.float32)
    texcoords = np.stack([uvs[:, 0], 1.0 - uvs[:, 1]], axis=1).astype(np.float32)
    blobs = [positions.tobytes(), faces.astype(np.uint32).tobytes(), texcoords.tobytes()]
    accessors = [
        {
            "bufferView": 0,
            "componentType": _FLOAT,
            "count": len(positions),
            "type": "VEC3",
            "min": positions.min(0).tolist(),
            "max": positions.max(0).tolist(),
        },
        {"bufferView": 1, "componentType": _UINT32, "count": faces.size, "type": "SCALAR"},
        {"bufferView": 2, "componentType": _FLOAT, "count": len(texcoords), "type": "VEC2"},
    ]
    attributes = {"POSITION": 0, "TEXCOORD_0": 2}
    if mesh.colors is not None:
        colors = mesh.colors[source].astype(np.float64)
        colors[:, :3] = srgb_to_linear(colors[:, :3])
        blobs.append(colors.astype(np.float32).tobytes())
        accessors.append({"bufferView": 3, "componentType": _FLOAT, "count": len(colors), "type": "VEC4"})
        attributes[VERTEX_COLOR_ATTRIBUTE] = 3
    views, offset = [], 0
    for i, blob in enumerate(blobs):
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob), "target": 34963 if i == 1 else 34962})
        offset += len(blob)
    png = _png_bytes(mesh.texture)
    views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(png)})
    blobs.append(png + b"\0" * (-len(png) % 4))
    offset += len(blobs[-1])
    document = {
        "asset": {"version": "2.0", "generator": "latentdreamer"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": path.stem}],
        "meshes": [{"name": path.stem, "primitives": [{"attributes": attributes, "indices": 1, "mode": 4, "material": 0}]}],
        "materials": [
            {
                "name": TEXTURE_MATERIAL,
                "pbrMetallicRoughness": {
                    "baseColorTexture": {"index": 0, "texCoord": 0},
                    "baseColorFactor": [1, 1, 1, 1],
                    "metallicFactor": 0.0,
                    "roughnessFactor": 1.0,
                },
            }
        ],
        "textures": [{"sampler": 0, "source": 0}],
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}],
        "images": [{"bufferView": len(views) - 1, "mimeType": "image/png", "name": path.stem + "_texture"}],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": offset}],
    }
    write_glb_container(path, document, blobs)


def textured_obj_files(path: str | Path) -> tuple[Path, Path]:
    """The MTL and PNG a textured OBJ at `path` refers to (beside it, named after its stem)."""
    path = Path(path)
    return path.with_suffix(".mtl"), path.with_name(path.stem + "_texture.png")


def _write_textured_obj(mesh: Mesh, path: Path) -> None:
    """`v x y z r g b` (the vertex colours stay), one `vt` per distinct UV, `f v/vt`, and the
    MTL and PNG beside it (relative names, so the three files move together)."""
    from latentdreamer.io.images import write_png

    mtl, png = textured_obj_files(path)
    uvs, corner_vt = np.unique(mesh.uvs.reshape(-1, 2), axis=0, return_inverse=True)
    corners = np.stack([mesh.faces.reshape(-1) + 1, corner_vt.reshape(-1) + 1], axis=1).reshape(-1, 6)
    write_png(png, mesh.texture)
    mtl.write_text(
        f"# latentdreamer\nnewmtl {TEXTURE_MATERIAL}\nKa 0 0 0\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\nmap_Kd {png.name}\n",
        encoding="ascii",
    )
    with open(path, "w", encoding="ascii") as f:
        f.write("# latentdreamer (Z up; v x y z r g b with sRGB colours; texture in the MTL)\n")
        f.write(f"mtllib {mtl.name}\n")
        if mesh.colors is None:
            np.savetxt(f, mesh.vertices, fmt="v %.9g %.9g %.9g")
        else:
            np.savetxt(f, np.concatenate([mesh.vertices, mesh.colors[:, :3]], axis=1), fmt="v %.9g %.9g %.9g %.6f %.6f %.6f")
        np.savetxt(f, uvs, fmt="vt %.7f %.7f")
        f.write(f"usemtl {TEXTURE_MATERIAL}\n")
        np.savetxt(f, corners, fmt="f %d/%d %d/%d %d/%d")


# --- everything else, through trimesh ----------------------------------------------------------


def _vertex_colors(geometry: trimesh.Trimesh) -> np.ndarray | None:
    """(V, 4) RGBA in [0, 1] for one part, or None when it has no colour of its own.

    Every shape trimesh hands back is brought to (V, 4): a material with a base colour
    but no texture coordinates (a window or tyre in glTF sample models) comes back from
    `to_color()` as one RGBA for the whole part, and some files store RGB only.
    """
    visual = geometry.visual
    if isinstance(visual, trimesh.visual.TextureVisuals):
        visual = visual.to_color()
    if visual.kind not in ("vertex", "face"):
        return None
    colors = np.asarray(visual.vertex_colors, dtype=np.float32) / 255.0
    if colors.ndim == 1:  # one colour for the whole part
        colors = np.broadcast_to(colors, (len(geometry.vertices), colors.shape[0]))
    if colors.shape[0] != len(geometry.vertices):
        return None  # colours that do not match the vertices carry nothing we can use
    if colors.shape[1] == 3:
        colors = np.concatenate([colors, np.ones((len(colors), 1), np.float32)], axis=1)
    return np.ascontiguousarray(colors[:, :4], dtype=np.float32)


def _read_with_trimesh(path: Path, y_up: bool) -> Mesh:
    scene = trimesh.load_scene(path, process=False)
    parts = [g for g in scene.dump() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    if not parts:
        raise ValueError(f"{path} holds no triangles")
    textured = any(isinstance(g.visual, trimesh.visual.TextureVisuals) and g.visual.uv is not None for g in parts)
    colors = [_vertex_colors(g) for g in parts]
    vertices = np.concatenate([g.vertices for g in parts])
    offsets = np.cumsum([0] + [len(g.vertices) for g in parts[:-1]])
    faces = np.concatenate([g.faces + o for g, o in zip(parts, offsets, strict=True)])
    merged = None
    if any(c is not None for c in colors):
        white = [np.ones((len(g.vertices), 4), np.float32) for g in parts]
        merged = np.concatenate([w if c is None else c for w, c in zip(white, colors, strict=True)])
    if y_up:
        vertices = vertices @ Z_UP_TO_Y_UP
    if textured:
        vertices, faces, merged = _merge_by_position(vertices, faces, merged)
    return Mesh(vertices, faces, merged)


def _merge_by_position(
    vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Weld vertices that sit at the same position (UV-seam copies), averaging their colours;
    faces that collapse are dropped."""
    unique, inverse = np.unique(vertices, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    faces = inverse[faces]
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])]
    if colors is not None:
        sums = np.zeros((len(unique), colors.shape[1]))
        np.add.at(sums, inverse, colors)
        colors = sums / np.bincount(inverse, minlength=len(unique))[:, None]
    return unique, faces, colors
