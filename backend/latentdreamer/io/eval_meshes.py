"""Evaluation meshes: any folder of mesh files, found one way and loaded into the object frame.

`eval sae`, `eval lin`, `eval generate` and the benchmarks all walk a folder with
`find_eval_meshes`, so they agree on what an entry is (docs/evaluation.md, "Mesh folders"):

* every file trimesh reads (MESH_SUFFIXES) at the top level is an entry named for its stem;
* every sub-folder is an entry named for the folder (datasets ship `<object>/textured.obj`
  many times over); it takes the largest mesh file anywhere inside and lists the others
  as ignored, never skipping the folder silently; a folder without one is an entry with a
  problem, so it shows up as a failure row;
* names that still collide (`cup.obj` beside `cup.ply`) keep their file suffix.

Orientation: our frame is Blender's (Z up, front towards -Y). Per entry, the first of these
that says anything wins: the entry's sidecar (SIDECAR), glTF's +Y up (the specification),
the table of the development meshes below, the folder-wide `up` of the caller (`--up`),
else Z up. Y-up files follow the OBJ convention (front towards +Z), which
(x, y, z) -> (x, -z, y) turns into ours, as Blender's OBJ importer does. Units are left as
they are: every consumer normalises the scale.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from ..errors import UserFacingError, naming_file
from ..geometry.mesh import Mesh

MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".ply", ".stl", ".off")
"""Every mesh format trimesh reads without extra packages."""
GLTF_SUFFIXES = (".glb", ".gltf")
UP_AXES = ("y", "z")
KINDS = ("solid", "thin")
"""`thin`: thin-walled, shell-like or open (legs, wires, vessels); `solid`: a closed volume."""
SIDECAR = "meta.json"
"""An entry folder's sidecar; a top-level file `<stem>.<ext>` has `<stem>.json` beside it.
Both hold a JSON object with an optional `up` (one of UP_AXES) and `kind` (one of KINDS)."""

_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
_ROTATIONS = {"z": np.eye(3), "y": _Y_UP_TO_Z_UP}

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
"""Up axis of each development mesh (`../shared/eval/meshes`, a read-only folder that cannot
hold sidecars), found by looking at axis projections of every file."""


class EvalFolderError(UserFacingError):
    """The folder to evaluate is missing, not a folder, or holds no mesh entry."""


@dataclass(frozen=True)
class EvalEntry:
    """One object of an evaluation folder: which file, which way up, what kind.

    `problem` is set when the entry cannot be loaded at all (no mesh file in its folder, a
    sidecar that is not valid); evaluations turn it into a failure row.
    """

    name: str
    path: Path | None
    up: str = "z"
    up_from: str = "default"
    """Which rule gave `up`: sidecar, glTF, known mesh, --up or default."""
    kind: str | None = None
    ignored: tuple[str, ...] = ()
    """Other mesh files in the entry's folder, not used (the largest file is)."""
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form reports carry (paths as strings)."""
        out = asdict(self)
        out["path"] = str(self.path) if self.path is not None else None
        out["ignored"] = list(self.ignored)
        return out


def default_eval_root() -> Path:
    """`<repo>/../shared/eval/meshes`, which may not exist (tests skip then)."""
    return Path(__file__).resolve().parents[3] / ".." / "shared" / "eval" / "meshes"


def _is_mesh_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in MESH_SUFFIXES and not path.name.startswith(".")


def _read_sidecar(path: Path) -> dict[str, str]:
    """The sidecar's settings; a ValueError saying what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"sidecar {path} is not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"sidecar {path} must hold a JSON object")
    unknown = sorted(set(data) - {"up", "kind"})
    if unknown:
        raise ValueError(f"sidecar {path} has unknown keys {unknown}; it may say 'up' and 'kind'")
    up = str(data.get("up", "")).lower().lstrip("+") or None
    if up is not None and up not in UP_AXES:
        raise ValueError(f"sidecar {path}: up must be one of {', '.join(UP_AXES)}, got {data['up']!r}")
    kind = data.get("kind")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"sidecar {path}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return {k: v for k, v in (("up", up), ("kind", kind)) if v is not None}


def _entry(
    name: str, path: Path | None, sidecar: Path, up: str | None, kind: str | None, ignored: tuple[str, ...] = ()
) -> EvalEntry:
    """Settle one entry's orientation and kind by the rules in the module docstring."""
    try:
        meta = _read_sidecar(sidecar) if sidecar.is_file() else {}
    except ValueError as exc:
        return EvalEntry(name, path, ignored=ignored, problem=str(exc))
    if path is None:
        return EvalEntry(name, None, problem=f"no mesh file ({', '.join(MESH_SUFFIXES)}) in {sidecar.parent}")
    if "up" in meta:
        chosen = (meta["up"], "sidecar")
    elif path.suffix.lower() in GLTF_SUFFIXES:
        chosen = ("y", "glTF")
    elif name in UP_AXIS or path.parent.name in UP_AXIS:
        chosen = (UP_AXIS.get(name) or UP_AXIS[path.parent.name], "known mesh")
    elif up is not None:
        chosen = (up, "--up")
    else:
        chosen = ("z", "default")
    return EvalEntry(name, path, chosen[0], chosen[1], meta.get("kind", kind), ignored)


def check_up(up: str | None) -> str | None:
    """A folder-wide up axis as given on a command line ('y', '+Y', 'z'), checked."""
    if up is None:
        return None
    axis = up.lower().lstrip("+")
    if axis not in UP_AXES:
        raise EvalFolderError(f"up axis {up!r} is not one of {', '.join(UP_AXES)}", "use --up y or --up z")
    return axis


def entry_for_file(path: Path | str, up: str | None = None, kind: str | None = None) -> EvalEntry:
    """One mesh file as an entry named for its stem (its sidecar is `<stem>.json`)."""
    path = Path(path)
    return _entry(path.stem, path, path.with_suffix(".json"), check_up(up), kind)


def find_eval_meshes(root: Path | str, up: str | None = None, kind: str | None = None) -> list[EvalEntry]:
    """Every entry of `root`, sorted by name (rules in the module docstring).

    `up` and `kind` apply to entries that neither a sidecar nor a convention settles.
    Raises EvalFolderError when `root` is not a folder or holds no entry.
    """
    root = Path(root)
    up = check_up(up)
    if kind is not None and kind not in KINDS:
        raise EvalFolderError(f"kind {kind!r} is not one of {', '.join(KINDS)}", "use --kind thin or --kind solid")
    if not root.is_dir():
        raise EvalFolderError(f"mesh folder {root} does not exist or is not a folder", "give --meshes a folder of meshes")
    found: list[EvalEntry] = []
    for item in sorted(root.iterdir()):
        if item.name.startswith("."):
            continue
        if _is_mesh_file(item):
            found.append(_entry(item.stem, item, item.with_suffix(".json"), up, kind))
        elif item.is_dir():
            inside = sorted((p for p in item.rglob("*") if _is_mesh_file(p)), key=lambda p: (-p.stat().st_size, str(p)))
            ignored = tuple(str(p.relative_to(item)) for p in inside[1:])
            found.append(_entry(item.name, inside[0] if inside else None, item / SIDECAR, up, kind, ignored))
    if not found:
        raise EvalFolderError(
            f"no mesh entries in {root}", f"put mesh files ({', '.join(MESH_SUFFIXES)}) or one folder per object in it"
        )
    return sorted(_unique_names(found), key=lambda e: e.name)


def _unique_names(entries: list[EvalEntry]) -> list[EvalEntry]:
    """Entries whose names collide are named with their file suffix (then a counter)."""
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.name] = counts.get(e.name, 0) + 1
    out, taken = [], set()
    for e in entries:
        name = e.name
        if counts[name] > 1 and e.path is not None and e.path.parent.name != e.name:
            name = e.path.name
        base, n = name, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        out.append(e if name == e.name else EvalEntry(name, e.path, e.up, e.up_from, e.kind, e.ignored, e.problem))
    return out


def _usable(entry: EvalEntry) -> Path:
    if entry.problem is not None or entry.path is None:
        raise EvalFolderError(f"evaluation entry {entry.name}: {entry.problem}", "fix the entry or leave it out")
    return entry.path


def orient(vertices: np.ndarray, up: str, read_as: str = "z") -> np.ndarray:
    """Vertices turned from a file stored `up`-up into our Z-up frame; `read_as` is the
    frame a reader has already turned them into (mesh_io reads glTF as +Y up)."""
    rotation = _ROTATIONS[up] @ _ROTATIONS[read_as].T
    return np.asarray(vertices, np.float64) @ rotation.T


def load_eval_mesh(entry: EvalEntry, colours: bool = False) -> Mesh:
    """One entry in the object frame, file units: the whole scene with its node transforms
    as one mesh. Without `colours` geometry only (decoding textures is most of a load's
    time); with them, textures sampled to vertices as `io/mesh_io.load_mesh` does.

    Raises a UserFacingError naming the file for anything wrong with it.
    """
    path = _usable(entry)
    with naming_file(path, "evaluation mesh"):
        if colours:
            from .mesh_io import load_mesh

            mesh = load_mesh(path)
            read_as = "y" if path.suffix.lower() in GLTF_SUFFIXES else "z"
            return Mesh(orient(mesh.vertices, entry.up, read_as), mesh.faces, mesh.colors)
        loaded = trimesh.load(path, force="mesh", process=False, skip_materials=True)
        if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
            raise ValueError("not a mesh: the file holds no triangles")
        return Mesh(orient(loaded.vertices, entry.up), np.asarray(loaded.faces, dtype=np.int64))


TEXTURE_LIMIT = 1024
"""Longest side the ground-truth textures are reduced to: a 320 px view never shows more, and
the 4096^2 scans would cost seconds per render."""
PLAIN_SLOT = 4
"""Side of the atlas slot a part without a texture gets, filled with its plain colour."""


def _part_image(part: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray, bool]:
    """(image, per-corner UVs, plain) of one scene part: its own texture, or (plain) a small
    slot of its plain colour (material colour, mean vertex colour, else grey) addressed at
    the centre."""
    from PIL import Image

    visual = part.visual
    material = getattr(visual, "material", None)
    if isinstance(material, trimesh.visual.material.PBRMaterial):  # glTF: its base colour texture
        material = material.to_simple()
    image = getattr(material, "image", None)
    if isinstance(visual, trimesh.visual.TextureVisuals) and visual.uv is not None and image is not None:
        image = image.convert("RGB")
        scale = min(1.0, TEXTURE_LIMIT / max(image.size))
        if scale < 1.0:
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.LANCZOS)
        uvs = np.clip(np.asarray(visual.uv, dtype=np.float64), 0.0, 1.0)[part.faces]
        return np.asarray(image, dtype=np.float32) / 255.0, uvs, False
    if material is not None and hasattr(material, "main_color"):
        colour = np.asarray(material.main_color[:3], np.float32) / 255.0
    elif visual.kind in ("vertex", "face"):
        colour = np.asarray(visual.vertex_colors, np.float32)[:, :3].mean(0) / 255.0
    else:
        colour = np.full(3, 0.7, np.float32)
    return np.broadcast_to(colour, (PLAIN_SLOT, PLAIN_SLOT, 3)), np.full((len(part.faces), 3, 2), 0.5), True


def load_textured_eval_mesh(entry: EvalEntry, plain_as_colours: bool = False, what: str = "evaluation mesh") -> Mesh:
    """One entry with its textures, in the object frame: per-corner UVs and one image.

    With `plain_as_colours`, a file in which no part has a texture image is read by
    `load_eval_mesh(entry, colours=True)` instead (its vertex colours are all it has), after
    one reading of the scene rather than a separate test first.

    Image-to-3D is scored on colour against views of the real texture, so this keeps what
    `load_eval_mesh` drops. Every part of the scene is kept with its node transform; their
    images go side by side in one atlas, each part's UVs moved into its slot, and a part
    with a plain colour only (a glTF material colour, vertex colours) gets a small slot of
    that colour. UVs outside [0, 1] (a few of the cow's) are clamped, as the files' textures
    are not tiling ones. Raises a UserFacingError naming the file (as `what`: a user's own
    file is a "mesh file") when it holds no triangles.
    """
    from PIL import Image

    path = _usable(entry)
    with naming_file(path, what):
        scene = trimesh.load_scene(path, process=False)
        parts = [g for g in scene.dump() if isinstance(g, trimesh.Trimesh) and len(g.faces)]
        if not parts:
            raise ValueError("not a mesh: the file holds no triangles")
        images, corner_uvs, plain = zip(*(_part_image(p) for p in parts), strict=True)
        if plain_as_colours and all(plain):
            return load_eval_mesh(entry, colours=True)
        height = max([i.shape[0] for i, flat in zip(images, plain, strict=True) if not flat], default=PLAIN_SLOT)
        resized = [
            np.broadcast_to(i[:1, :1], (height, PLAIN_SLOT, 3))  # a column of the plain colour
            if flat
            else i
            if i.shape[0] == height
            else np.asarray(
                Image.fromarray((i * 255).astype(np.uint8)).resize((round(i.shape[1] * height / i.shape[0]), height)),
                dtype=np.float32,
            )
            / 255.0
            for i, flat in zip(images, plain, strict=True)
        ]
        width = sum(i.shape[1] for i in resized)
        lefts = np.cumsum([0] + [i.shape[1] for i in resized[:-1]])
        uvs = [
            np.stack([(left + uv[..., 0] * image.shape[1]) / width, uv[..., 1]], axis=-1)
            for uv, image, left in zip(corner_uvs, resized, lefts, strict=True)
        ]
        offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
        faces = np.concatenate([np.asarray(p.faces, np.int64) + o for p, o in zip(parts, offsets, strict=True)])
        points = orient(np.concatenate([p.vertices for p in parts]), entry.up)
        return Mesh(points, faces, uvs=np.concatenate(uvs), texture=np.concatenate(resized, axis=1))
