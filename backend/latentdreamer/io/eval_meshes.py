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
from .mesh_io import load_mesh

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


def load_textured_eval_mesh(path: Path | str) -> Mesh:
    """One eval mesh with its texture(s), in the object frame: per-corner UVs and one image.

    Image-to-3D is scored on colour against views of the real texture, so this keeps what
    `load_eval_mesh` drops (io/mesh_io.load_mesh with keep_texture: several materials side by
    side in one atlas). Raises ValueError for a mesh without a texture.
    """
    path = Path(path)
    mesh = load_mesh(path, keep_texture=True)
    if mesh.uvs is None:
        raise ValueError(f"{path}: a part without a texture; use load_eval_mesh for geometry")
    return to_object_frame(mesh, path)


def to_object_frame(mesh: Mesh, path: Path | str) -> Mesh:
    """A mesh read from an eval entry's file as stored, turned Z up by the table above (colours,
    UVs and texture kept)."""
    if UP_AXIS.get(entry_name(path), "z") != "y":
        return mesh
    points = np.asarray(mesh.vertices, np.float64) @ _Y_UP_TO_Z_UP.T
    return Mesh(points, mesh.faces, mesh.colors, uvs=mesh.uvs, texture=mesh.texture)
