"""The development evaluation meshes (`<repo>/../shared/eval/meshes/`), loaded into the object frame.

The files mix up axes; everything downstream assumes Blender's frame (Z up, the front
facing -Y), so the one table below says how each entry is turned. Checked by looking at
axis projections of every file: Y-up files are the usual OBJ convention (front towards
+Z), which (x, y, z) -> (x, -z, y) maps to Z up with the front towards -Y, as Blender's
OBJ importer does. Units are left as they are: every consumer normalises the scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from ..geometry.mesh import Mesh

_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

UP_AXIS: dict[str, str] = {
    "armchair": "y",
    "bunny_stanford": "y",
    "cat": "y",
    "cow_spot": "y",
    "cup_blue": "z",
    "duck_bob": "y",
    "fish_blub": "y",
    "teapot_utah": "y",
    "toy_cheburashka": "y",
    "ycb_banana": "z",
}
"""Up axis of each entry as stored; entries not listed are taken to be Z up already."""


def default_eval_root() -> Path:
    """`<repo>/../shared/eval/meshes`, which may not exist (tests skip then)."""
    return Path(__file__).resolve().parents[3] / ".." / "shared" / "eval" / "meshes"


def eval_mesh_paths(root: Path | str | None = None) -> list[Path]:
    """One mesh file per entry: top-level .obj files and the .obj inside each entry folder."""
    root = Path(root) if root is not None else default_eval_root()
    paths = sorted(root.glob("*.obj"))
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        objs = sorted(folder.glob("*.obj"))
        if len(objs) != 1:
            raise ValueError(f"expected one .obj in {folder}, found {len(objs)}")
        paths.append(objs[0])
    return sorted(paths, key=entry_name)


def entry_name(path: Path | str) -> str:
    """The entry a mesh file belongs to: its own stem for top-level files, else its folder."""
    path = Path(path)
    if path.stem not in UP_AXIS and path.parent.name in UP_AXIS:
        return path.parent.name
    return path.stem


def load_eval_mesh(path: Path | str) -> Mesh:
    """Geometry of one eval mesh in the object frame (Z up), file units, no colours."""
    path = Path(path)
    # Materials are skipped: geometry only, and decoding the textures is most of the load time.
    loaded = trimesh.load(path, force="mesh", process=False, skip_materials=True)
    vertices = np.asarray(loaded.vertices, dtype=np.float64)
    if UP_AXIS.get(entry_name(path), "z") == "y":
        vertices = vertices @ _Y_UP_TO_Z_UP.T
    return Mesh(vertices, np.asarray(loaded.faces, dtype=np.int64))


TEXTURE_LIMIT = 1024
"""Longest side the ground-truth textures are reduced to: a 320 px view never shows more, and
the 4096^2 scans would cost seconds per render."""


def load_textured_eval_mesh(path: Path | str) -> Mesh:
    """One eval mesh with its texture(s), in the object frame: per-corner UVs and one image.

    Image-to-3D is scored on colour against views of the real texture, so this keeps what
    `load_eval_mesh` drops. Entries with several materials (the armchair's two) get their
    images side by side in one atlas, each part's UVs moved into its slot; UVs outside
    [0, 1] (a few of the cow's) are clamped, as the files' textures are not tiling ones.
    Raises ValueError for a mesh without a texture.
    """
    from PIL import Image

    path = Path(path)
    scene = trimesh.load_scene(path, process=False)
    parts = [g for g in scene.dump() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    images, corner_uvs, vertices, faces, offset = [], [], [], [], 0
    for part in parts:
        visual = part.visual
        image = getattr(getattr(visual, "material", None), "image", None)
        if not isinstance(visual, trimesh.visual.TextureVisuals) or visual.uv is None or image is None:
            raise ValueError(f"{path}: a part without a texture; use load_eval_mesh for geometry")
        image = image.convert("RGB")
        scale = min(1.0, TEXTURE_LIMIT / max(image.size))
        if scale < 1.0:
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.LANCZOS)
        images.append(np.asarray(image, dtype=np.float32) / 255.0)
        corner_uvs.append(np.clip(np.asarray(visual.uv, dtype=np.float64), 0.0, 1.0)[part.faces])
        vertices.append(np.asarray(part.vertices, dtype=np.float64))
        faces.append(np.asarray(part.faces, dtype=np.int64) + offset)
        offset += len(part.vertices)
    if not parts:
        raise ValueError(f"{path} holds no triangles")
    height = max(i.shape[0] for i in images)
    resized = [
        i
        if i.shape[0] == height
        else np.asarray(
            Image.fromarray((i * 255).astype(np.uint8)).resize((round(i.shape[1] * height / i.shape[0]), height)),
            dtype=np.float32,
        )
        / 255.0
        for i in images
    ]
    width = sum(i.shape[1] for i in resized)
    left = 0
    for k, image in enumerate(resized):
        uv = corner_uvs[k]
        corner_uvs[k] = np.stack([(left + uv[..., 0] * image.shape[1]) / width, uv[..., 1]], axis=-1)
        left += image.shape[1]
    points = np.concatenate(vertices)
    if UP_AXIS.get(entry_name(path), "z") == "y":
        points = points @ _Y_UP_TO_Z_UP.T
    return Mesh(points, np.concatenate(faces), uvs=np.concatenate(corner_uvs), texture=np.concatenate(resized, axis=1))
