"""Random objects with thin parts, as analytic signed distances (issue 15: the SAE's thin class).

The block generator (random_shapes.py) blurs a rasterised union, so nothing in it is thinner
than a few voxels, and the SAE trained on it cannot hold chair legs, shelves, rims or the walls
of a cup. These objects are unions of parts whose thin dimension is a few millimetres to two
centimetres in the normalised frame (radius 0.5, i.e. a 1.1 m grid box, where a 64^3 voxel is
17.5 mm): plates and disks (shelves, seats, table tops), rods (legs, handles when bent into a
ring), rings and tori, rectangular frames and box frames (chair backs, shelf carcasses),
hollow shells of a sphere, cylinder, box or capsule, most cut open at the top (bowls, cups,
open boxes, vases), and solid rounded blocks for the bulk they attach to.

Why analytic distances rather than a raster: the SAE's point decoder can be asked for any
point, and training it on targets finer than its 64^3 input is what lets it learn detail the
grid cannot hold (train/sae.py, `targets="exact"`). Each part is a core (a point set: segment,
rectangle, circle, the surface of a solid ...) dilated by a half-thickness t, so its distance
is the exact distance to the core minus t; a union takes the minimum, which is exact outside
and on the surface and a bound (with the right sign) inside where parts overlap; cutting a
shell open takes a maximum with a plane, a bound near the rim. The SDF grid the encoder reads
is this distance sampled at the grid's vertices, as mesh_to_sdf does for a real mesh.

Sizes are drawn in an arbitrary frame and normalised (only ratios matter); thicknesses are
drawn afterwards in metres of the normalised frame, and the cores are fitted into the sphere of
radius 0.5 minus the largest thickness, so every part stays inside the radius-0.5 sphere.
Parts are chained as in random_shapes.py (each new one anchored on an earlier one, often with
its axes aligned), and a plate or disk may get three or four legs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grid import OBJECT_RADIUS, grid_coordinates, voxel_size
from .random_shapes import _SPHERE, _random_axis_permutation, _random_rotation

THIN_KINDS: tuple[str, ...] = ("plate", "disk", "rod", "ring", "frame", "box_frame", "shell", "solid")
BASES: tuple[str, ...] = ("sphere", "cylinder", "box", "capsule")
"""Solids whose exact distance is cheap: the bases of shells and solid parts."""


@dataclass(frozen=True)
class ThinShapeConfig:
    """Ranges the generator draws from; sizes are relative, thicknesses in metres (normalised frame)."""

    parts: tuple[int, int] = (1, 6)
    kinds: tuple[str, ...] = THIN_KINDS
    size: tuple[float, float] = (0.08, 0.5)
    """Core half-sizes before normalisation, log-uniform (only ratios matter)."""
    wall: tuple[float, float] = (0.006, 0.02)
    """Full thickness of plates, disks and shell walls, log-uniform. 6 mm is at least a 192^3
    voxel (5.8 mm): a slab that thick holds a lattice sample in every orientation, so the
    evaluation's truth grid keeps every wall."""
    rod_diameter: tuple[float, float] = (0.01, 0.04)
    """Full thickness of rods, rings and the tubes of frames and box frames, log-uniform. A tube
    along a lattice axis can slip between samples unless its radius is above half a voxel's
    diagonal (4.1 mm at 192^3), hence the 10 mm floor."""
    solid_rounding: tuple[float, float] = (0.0, 0.02)
    """Dilation of solid parts (rounded edges), uniform."""
    aligned_probability: float = 0.7
    open_probability: float = 0.75
    """Chance that a shell is cut open by a plane (a cup, bowl, open box or vase)."""
    legs_probability: float = 0.35
    """Chance that a plate or disk gets three or four parallel legs."""

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(THIN_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be a non-empty subset of {THIN_KINDS}, got {self.kinds}")
        if not 1 <= self.parts[0] <= self.parts[1]:
            raise ValueError(f"parts range must satisfy 1 <= lo <= hi, got {self.parts}")
        for name in ("size", "wall", "rod_diameter"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} range must be positive, got {(lo, hi)}")


@dataclass(frozen=True)
class Part:
    """One part: a core of local half-sizes `size`, dilated by `thickness` (half of the wall).

    `base` names the solid of a shell or solid part; `cut` (shells only) removes everything
    above local z = cut, opening the shell.
    """

    kind: str
    size: np.ndarray
    centre: np.ndarray
    rotation: np.ndarray
    thickness: float
    base: str = ""
    cut: float | None = None


@dataclass(frozen=True)
class ThinShape:
    """A generated object with its parts, its SDF grid and the exact distance at any point."""

    parts: list[Part]
    sdf: np.ndarray

    def distance(self, points: np.ndarray) -> np.ndarray:
        return thin_distance(self.parts, points)


def thin_sdf(seed: int, resolution: int, config: ThinShapeConfig | None = None) -> np.ndarray:
    """The thin object of this seed as an (n, n, n) float32 SDF (metres, negative inside)."""
    return thin_shape(seed, resolution, config).sdf


def thin_shape(seed: int, resolution: int, config: ThinShapeConfig | None = None) -> ThinShape:
    """The object of this seed (the parts do not depend on the resolution, only the grid does)."""
    parts = thin_parts(seed, config)
    return ThinShape(parts, sdf_grid(parts, resolution))


def thin_parts(seed: int, config: ThinShapeConfig | None = None) -> list[Part]:
    """Normalised parts of this seed's object."""
    config = config or ThinShapeConfig()
    rng = np.random.default_rng(seed)
    parts = _sample_parts(rng, config)
    return _normalise(parts, OBJECT_RADIUS - max(p.thickness for p in parts))


def sdf_grid(parts: list[Part], resolution: int, band: float = 0.1) -> np.ndarray:
    """The union's distance at the vertices of an n^3 grid (grid.py layout), float32, clamped
    to +-band: each part is evaluated only inside its bounding box grown by band, which is
    what makes a grid affordable per training step (the SAE clamps its input at +-0.1 m)."""
    c = grid_coordinates(resolution)
    h = voxel_size(resolution)
    out = np.full((resolution,) * 3, band, dtype=np.float32)
    for p in parts:
        reach = np.abs(p.rotation) @ (_core_box(p) + p.thickness + band)
        lo = np.clip(np.ceil((p.centre - reach - c[0]) / h).astype(int), 0, resolution - 1)
        hi = np.clip(np.floor((p.centre + reach - c[0]) / h).astype(int) + 1, 0, resolution)
        if np.any(hi <= lo):
            continue
        axes = np.meshgrid(*(c[lo[a] : hi[a]] for a in range(3)), indexing="ij")
        pts = np.stack(axes, axis=-1).reshape(-1, 3)
        box = tuple(slice(lo[a], hi[a]) for a in range(3))
        d = part_distance(p, pts).reshape(out[box].shape)
        out[box] = np.minimum(out[box], d)
    return np.maximum(out, -band)


def thin_distance(parts: list[Part], points: np.ndarray) -> np.ndarray:
    """Signed distance of the union at (m, 3) points: the minimum over the parts (exact outside
    and on the surface, a bound inside where parts overlap and near a shell's cut rim)."""
    points = np.asarray(points)
    return np.min([part_distance(p, points) for p in parts], axis=0)


def part_distance(part: Part, points: np.ndarray) -> np.ndarray:
    """Signed distance of one part at (m, 3) object-frame points."""
    local = (points - part.centre.astype(points.dtype)) @ part.rotation.astype(points.dtype)  # R^T (p - c)
    x, y, z = local.T
    a, t = part.size, part.thickness
    if part.kind == "shell":
        d = np.abs(_solid_distance(part.base, a, x, y, z)) - t
        return d if part.cut is None else np.maximum(d, z - part.cut)
    if part.kind == "solid":
        return _solid_distance(part.base, a, x, y, z) - t
    return _core_distance(part.kind, a, x, y, z) - t


def _core_distance(kind: str, a: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Unsigned distance to a part's core (the point set it dilates)."""
    if kind == "plate":  # rectangle |x| <= a_x, |y| <= a_y in the plane z = 0
        return np.sqrt(_pos(np.abs(x) - a[0]) ** 2 + _pos(np.abs(y) - a[1]) ** 2 + z * z)
    if kind == "disk":  # disk of radius a_x in z = 0
        return np.sqrt(_pos(np.hypot(x, y) - a[0]) ** 2 + z * z)
    if kind == "rod":  # segment along z, half-length a_z
        return np.sqrt(x * x + y * y + (z - np.clip(z, -a[2], a[2])) ** 2)
    if kind == "ring":  # circle of radius a_x in z = 0
        return np.hypot(np.hypot(x, y) - a[0], z)
    if kind == "frame":  # outline of the rectangle a_x, a_y in z = 0
        qx, qy = np.abs(x) - a[0], np.abs(y) - a[1]
        edge = np.hypot(_pos(qx), _pos(qy)) + np.minimum(np.maximum(qx, qy), 0.0)
        return np.hypot(edge, z)
    if kind == "box_frame":  # the twelve edges of the box a
        px, py, pz = np.abs(x) - a[0], np.abs(y) - a[1], np.abs(z) - a[2]
        return np.minimum.reduce(
            [
                np.sqrt(_pos(px) ** 2 + py * py + pz * pz),
                np.sqrt(px * px + _pos(py) ** 2 + pz * pz),
                np.sqrt(px * px + py * py + _pos(pz) ** 2),
            ]
        )
    raise ValueError(f"unknown thin part kind {kind!r}")


def _solid_distance(base: str, a: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Exact signed distance of a base solid (sphere radius a_x; cylinder and capsule radius
    a_x along z with half-length a_z; box a)."""
    if base == "sphere":
        return np.sqrt(x * x + y * y + z * z) - a[0]
    if base == "cylinder":
        dr, dz = np.hypot(x, y) - a[0], np.abs(z) - a[2]
        return np.hypot(_pos(dr), _pos(dz)) + np.minimum(np.maximum(dr, dz), 0.0)
    if base == "box":
        q = np.abs(np.stack([x, y, z])) - a[:, None].astype(x.dtype)
        return np.linalg.norm(_pos(q), axis=0) + np.minimum(q.max(axis=0), 0.0)
    if base == "capsule":
        return np.sqrt(x * x + y * y + (z - np.clip(z, -a[2], a[2])) ** 2) - a[0]
    raise ValueError(f"unknown base solid {base!r}")


def _pos(v: np.ndarray) -> np.ndarray:
    return np.maximum(v, 0.0)


def _sample_parts(rng: np.random.Generator, config: ThinShapeConfig) -> list[Part]:
    """Parts in an arbitrary frame (thicknesses already in metres): a chain, plus legs."""
    count = int(rng.integers(config.parts[0], config.parts[1] + 1))
    parts: list[Part] = []
    for _ in range(count):
        kind = config.kinds[int(rng.integers(len(config.kinds)))]
        aligned = rng.random() < config.aligned_probability
        if not parts:
            centre = np.zeros(3)
            rotation = np.eye(3) if aligned else _random_rotation(rng)
        else:
            parent = parts[int(rng.integers(len(parts)))]
            centre = parent.centre + parent.rotation @ (_core_box(parent) * rng.uniform(-1.0, 1.0, 3))
            rotation = parent.rotation @ _random_axis_permutation(rng) if aligned else _random_rotation(rng)
        part = _sample_part(rng, config, kind, centre, rotation)
        parts.append(part)
        if kind in ("plate", "disk") and rng.random() < config.legs_probability:
            parts.extend(_legs(rng, config, part))
    return parts


def _sample_part(rng: np.random.Generator, config: ThinShapeConfig, kind: str, centre: np.ndarray, rotation: np.ndarray) -> Part:
    size = np.exp(rng.uniform(np.log(config.size[0]), np.log(config.size[1]), 3))
    wall = 0.5 * _log_uniform(rng, config.wall)
    rod = 0.5 * _log_uniform(rng, config.rod_diameter)
    if kind == "plate":
        return Part(kind, size * [1.0, 1.0, 0.0], centre, rotation, wall)
    if kind == "frame":
        return Part(kind, size * [1.0, 1.0, 0.0], centre, rotation, rod)
    if kind == "disk":  # round cores keep size = (r, r, 0), so the size is their bounding box
        return Part(kind, np.array([size[0], size[0], 0.0]), centre, rotation, wall)
    if kind == "ring":
        return Part(kind, np.array([size[0], size[0], 0.0]), centre, rotation, rod)
    if kind == "rod":
        return Part(kind, size * [0.0, 0.0, 1.0], centre, rotation, rod)
    if kind == "box_frame":
        return Part(kind, size, centre, rotation, rod)
    base = BASES[int(rng.integers(len(BASES)))]
    if base in ("sphere", "cylinder", "capsule"):
        size = np.array([size[0], size[0], size[2]]) if base != "sphere" else np.full(3, size[0])
    if kind == "solid":
        return Part(kind, size, centre, rotation, float(rng.uniform(*config.solid_rounding)), base)
    cut = None
    if rng.random() < config.open_probability:
        top = size[2] + (size[0] if base == "capsule" else 0.0)
        cut = top * float(rng.uniform(0.2, 0.9) if base != "sphere" else rng.uniform(-0.2, 0.7))
    return Part("shell", size, centre, rotation, wall, base, cut)


def _legs(rng: np.random.Generator, config: ThinShapeConfig, top: Part) -> list[Part]:
    """Three or four parallel rods hanging from a plate's or disk's corners along its -z."""
    count = int(rng.integers(3, 5))
    length = float(np.exp(rng.uniform(np.log(config.size[0]), np.log(config.size[1]))))
    radius = 0.5 * _log_uniform(rng, config.rod_diameter)
    inset = rng.uniform(0.6, 0.95)
    if top.kind == "disk" or count == 3:
        angle = 2.0 * np.pi * np.arange(count) / count + rng.uniform(0, 2.0 * np.pi)
        r = top.size[0] * inset
        feet = np.stack([r * np.cos(angle), r * np.sin(angle), np.zeros(count)], axis=1)
        if top.kind == "plate":
            feet[:, :2] *= top.size[:2] / top.size[0]
    else:
        feet = np.array([[sx, sy, 0.0] for sx in (-1, 1) for sy in (-1, 1)]) * [*top.size[:2] * inset, 0.0]
    return [
        Part("rod", np.array([0.0, 0.0, length]), top.centre + top.rotation @ (f - [0.0, 0.0, length]), top.rotation, radius)
        for f in feet
    ]


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def _core_box(part: Part) -> np.ndarray:
    """Half-extents of the core's local bounding box (shell and solid bases included)."""
    a = part.size
    if part.kind in ("shell", "solid") and part.base == "capsule":
        return np.array([a[0], a[0], a[2] + a[0]])
    return a


_CIRCLE = np.linspace(0.0, 2.0 * np.pi, 96, endpoint=False)
_RING = np.stack([np.cos(_CIRCLE), np.sin(_CIRCLE), np.zeros_like(_CIRCLE)], axis=1)
_CORNERS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)


def _extreme_points(part: Part) -> np.ndarray:
    """Local points of the core whose farthest from any point is the core's farthest."""
    a = part.size
    kind = part.base if part.kind in ("shell", "solid") else part.kind
    if kind in ("plate", "frame", "box", "box_frame", "rod"):
        return _CORNERS * a
    if kind in ("disk", "ring"):
        return _RING * a[0]
    if kind == "sphere":
        return _SPHERE * a[0]
    if kind == "cylinder":
        rim = _RING * a[0]
        return np.concatenate([rim + [0, 0, a[2]], rim - [0, 0, a[2]]])
    if kind == "capsule":
        return np.concatenate([_SPHERE * a[0] + [0, 0, a[2]], _SPHERE * a[0] - [0, 0, a[2]]])
    raise ValueError(f"unknown thin part kind {kind!r}")


def _normalise(parts: list[Part], radius: float) -> list[Part]:
    """Move and scale the cores so their union's bounding-box centre is the origin and it fits
    `radius`; thicknesses are kept (they are in metres of the normalised frame already)."""
    points = np.concatenate([p.centre + _extreme_points(p) @ p.rotation.T for p in parts])
    centre = 0.5 * (points.max(axis=0) + points.min(axis=0))
    scale = radius / np.linalg.norm(points - centre, axis=1).max()
    return [
        Part(
            p.kind,
            p.size * scale,
            (p.centre - centre) * scale,
            p.rotation,
            p.thickness,
            p.base,
            None if p.cut is None else p.cut * scale,
        )
        for p in parts
    ]
