"""Random closed objects as SDF grids: the SAE's and LIN's only training data (docs/design.md §5).

An object is a union of blocks (boxes, ellipsoids, cylinders, cones, capsules, tori), each
with random extents, centre and rotation; the union is rasterised, rounded by k rounds of
a normalised Gaussian blur re-thresholded at 0.5, and turned into a signed distance grid
(the last round's blurred field places the surface between samples, see field_to_sdf).

Choices that matter downstream:
- Blocks are placed in a chain (each new centre inside the box of an earlier block), so
  most objects are one connected solid, like the real objects the networks will meet.
- Normalisation is exact and done before rasterising: the blocks' extreme points give the
  union's bounding-box centre and its farthest point, and the blocks are scaled so the
  union fits the sphere of radius 0.5 - h/2 (h = voxel size); the SDF's zero level set
  lies at most h/2 outside the inside samples, so the surface stays in the radius-0.5
  sphere (grid.py) at every resolution. Blurring a union never grows it beyond a sphere
  that contains it (a symmetric kernel centred outside a ball covers less than half of
  it), so the outer shell of the grid is always outside.
- The Gaussian kernel is truncated to a cube of half-width r rather than a ball of radius
  r, which makes it separable: three 1-D passes instead of one 3-D convolution (the
  benchmark measures the difference; the two give the same output).
- Sizes are in the normalised frame (metres), not voxels, so a seed gives the same object
  at 32^3, 64^3 and 128^3 up to the grid's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .grid import OBJECT_RADIUS, grid_coordinates, voxel_size
from .sdf_from_occupancy import field_to_sdf

BLOCK_KINDS: tuple[str, ...] = ("box", "ellipsoid", "cylinder", "cone", "capsule", "torus")


@dataclass(frozen=True)
class RandomShapeConfig:
    """Ranges the generator draws from (inclusive); lengths are relative or in metres as noted."""

    blocks: tuple[int, int] = (1, 6)
    kinds: tuple[str, ...] = BLOCK_KINDS
    half_extent: tuple[float, float] = (0.06, 0.5)
    """Block half-extent per local axis, before normalisation (only ratios matter); log-uniform."""
    aligned_probability: float = 0.5
    """Chance that a block's axes are a permutation of its parent's (man-made objects are boxy)."""
    blur_rounds: tuple[int, int] = (0, 3)
    blur_radius: tuple[float, float] = (0.02, 0.07)
    """Kernel half-width r in metres of the normalised object (radius 0.5)."""
    blur_sigma: tuple[float, float] = (0.35, 1.0)
    """Gaussian spread as a fraction of r."""
    min_inside_fraction: float = 0.002
    """Reject (and redraw) objects whose inside samples are fewer than this fraction of the grid."""

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(BLOCK_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be a non-empty subset of {BLOCK_KINDS}, got {self.kinds}")
        if not 1 <= self.blocks[0] <= self.blocks[1]:
            raise ValueError(f"blocks range must satisfy 1 <= lo <= hi, got {self.blocks}")
        if not 0 < self.half_extent[0] <= self.half_extent[1]:
            raise ValueError(f"half_extent range must be positive, got {self.half_extent}")
        if not 0 <= self.blur_rounds[0] <= self.blur_rounds[1]:
            raise ValueError(f"blur_rounds range must satisfy 0 <= lo <= hi, got {self.blur_rounds}")


@dataclass(frozen=True)
class Block:
    """One primitive: its kind, half-extents (local x, y, z), centre and rotation (local -> world)."""

    kind: str
    half_extent: np.ndarray
    centre: np.ndarray
    rotation: np.ndarray


@dataclass(frozen=True)
class Blur:
    radius: float
    sigma: float


@dataclass(frozen=True)
class RandomShape:
    """A generated object with the recipe that made it (for inspection and tests)."""

    blocks: list[Block]
    blurs: list[Blur]
    sdf: np.ndarray


def random_sdf(seed: int, resolution: int, config: RandomShapeConfig | None = None) -> np.ndarray:
    """The random object of this seed as an (n, n, n) float32 SDF (metres, negative inside)."""
    return random_shape(seed, resolution, config).sdf


def random_shape(seed: int, resolution: int, config: RandomShapeConfig | None = None) -> RandomShape:
    """The object of this seed: normalised blocks, blur rounds and SDF."""
    config = config or RandomShapeConfig()
    if resolution < 16:
        raise ValueError(f"resolution must be at least 16, got {resolution}")
    rng = np.random.default_rng(seed)
    h = voxel_size(resolution)
    min_inside = max(8, int(config.min_inside_fraction * resolution**3))
    while True:  # redraws continue the same stream, so the result is still a function of the seed
        blocks = normalise_blocks(sample_blocks(rng, config), OBJECT_RADIUS - 0.5 * h)
        blurs = sample_blurs(rng, config)
        field = blur_occupancy(rasterise_blocks(blocks, resolution), blurs, h)
        if np.count_nonzero(field > 0.5) >= min_inside:
            return RandomShape(blocks, blurs, field_to_sdf(field))


def sample_blocks(rng: np.random.Generator, config: RandomShapeConfig) -> list[Block]:
    """Blocks in an arbitrary frame: each new centre lies in the box of a random earlier block."""
    count = int(rng.integers(config.blocks[0], config.blocks[1] + 1))
    lo, hi = np.log(config.half_extent[0]), np.log(config.half_extent[1])
    blocks: list[Block] = []
    for _ in range(count):
        kind = config.kinds[int(rng.integers(len(config.kinds)))]
        half = np.exp(rng.uniform(lo, hi, 3))
        aligned = rng.random() < config.aligned_probability
        if not blocks:
            centre = np.zeros(3)
            rotation = np.eye(3) if aligned else _random_rotation(rng)
        else:
            parent = blocks[int(rng.integers(len(blocks)))]
            centre = parent.centre + parent.rotation @ (parent.half_extent * rng.uniform(-1.0, 1.0, 3))
            rotation = parent.rotation @ _random_axis_permutation(rng) if aligned else _random_rotation(rng)
        blocks.append(Block(kind, half, centre, rotation))
    return blocks


def sample_blurs(rng: np.random.Generator, config: RandomShapeConfig) -> list[Blur]:
    rounds = int(rng.integers(config.blur_rounds[0], config.blur_rounds[1] + 1))
    blurs = []
    for _ in range(rounds):
        radius = rng.uniform(*config.blur_radius)
        blurs.append(Blur(radius, radius * rng.uniform(*config.blur_sigma)))
    return blurs


def normalise_blocks(blocks: list[Block], radius: float) -> list[Block]:
    """Scale and move the blocks so their union's bounding-box centre is the origin and it fits `radius`."""
    points = np.concatenate([b.centre + _extreme_points(b) @ b.rotation.T for b in blocks])
    centre = 0.5 * (points.max(axis=0) + points.min(axis=0))
    scale = radius / np.linalg.norm(points - centre, axis=1).max()
    return [Block(b.kind, b.half_extent * scale, (b.centre - centre) * scale, b.rotation) for b in blocks]


def rasterise_blocks(blocks: list[Block], resolution: int) -> np.ndarray:
    """Boolean (n, n, n) occupancy of the union, testing only the samples in each block's box."""
    coords = grid_coordinates(resolution).astype(np.float64)
    h = voxel_size(resolution)
    occ = np.zeros((resolution,) * 3, dtype=bool)
    for b in blocks:
        reach = np.abs(b.rotation) @ _local_box(b)
        lo = np.clip(np.ceil((b.centre - reach - coords[0]) / h).astype(int), 0, resolution - 1)
        hi = np.clip(np.floor((b.centre + reach - coords[0]) / h).astype(int) + 1, 0, resolution)
        if np.any(hi <= lo):
            continue
        axes = [coords[lo[a] : hi[a]] - b.centre[a] for a in range(3)]
        # Local coordinates q = R^T (p - c), summed per axis so no (m, 3) point array is built.
        q = [
            axes[0][:, None, None] * b.rotation[0, a]
            + axes[1][None, :, None] * b.rotation[1, a]
            + axes[2][None, None, :] * b.rotation[2, a]
            for a in range(3)
        ]
        occ[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] |= _inside(b.kind, b.half_extent, *q)
    return occ


def gaussian_kernel_1d(radius_voxels: int, sigma_voxels: float) -> np.ndarray:
    """Normalised 1-D Gaussian on [-r, r]; the 3-D kernel is its outer product (sums to 1)."""
    x = np.arange(-radius_voxels, radius_voxels + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / max(sigma_voxels, 1e-6)) ** 2)
    return (w / w.sum()).astype(np.float32)


def blur_occupancy(occ: np.ndarray, blurs: list[Blur], h: float) -> np.ndarray:
    """k rounds of Gaussian blur, each on the occupied box padded by r and thresholded at 0.5.

    Returns the last round's blurred field (float32, object where > 0.5) rather than its
    threshold, so the SDF can place the surface between samples (field_to_sdf); with no
    rounds, the occupancy as 0/1.
    """
    n = occ.shape[0]
    field = occ.astype(np.float32)
    for blur in blurs:
        occ = field > 0.5
        r = max(1, int(round(blur.radius / h)))
        kernel = gaussian_kernel_1d(r, blur.sigma / h)
        nonzero = [np.flatnonzero(occ.any(axis=axes)) for axes in ((1, 2), (0, 2), (0, 1))]
        if any(len(idx) == 0 for idx in nonzero):
            break
        box = tuple(slice(max(0, idx[0] - r), min(n, idx[-1] + r + 1)) for idx in nonzero)
        part = occ[box].astype(np.float32)
        for axis in range(3):
            part = ndimage.correlate1d(part, kernel, axis=axis, mode="constant", cval=0.0)
        field = np.zeros_like(field)
        field[box] = part
    return field


def _inside(kind: str, a: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    if kind == "box":
        return (np.abs(x) <= a[0]) & (np.abs(y) <= a[1]) & (np.abs(z) <= a[2])
    if kind == "ellipsoid":
        return (x / a[0]) ** 2 + (y / a[1]) ** 2 + (z / a[2]) ** 2 <= 1.0
    if kind == "cylinder":
        return ((x / a[0]) ** 2 + (y / a[1]) ** 2 <= 1.0) & (np.abs(z) <= a[2])
    if kind == "cone":  # base ellipse at z = -a_z, apex at z = +a_z
        taper = np.clip((a[2] - z) / (2.0 * a[2]), 0.0, None)
        return ((x / a[0]) ** 2 + (y / a[1]) ** 2 <= taper**2) & (np.abs(z) <= a[2])
    if kind == "capsule":  # radius min(a_x, a_y), straight part of half-length a_z
        r = min(a[0], a[1])
        zc = np.clip(z, -a[2], a[2])
        return x**2 + y**2 + (z - zc) ** 2 <= r * r
    if kind == "torus":  # around local z
        major, minor = _torus_radii(a)
        return (np.sqrt(x**2 + y**2) - major) ** 2 + z**2 <= minor * minor
    raise ValueError(f"unknown block kind {kind!r}")


def _torus_radii(a: np.ndarray) -> tuple[float, float]:
    major = max(a[0], a[1])
    return major, min(a[2], 0.6 * major)


def _local_box(b: Block) -> np.ndarray:
    """Half-extents of the block's local axis-aligned bounding box."""
    a = b.half_extent
    if b.kind == "capsule":
        r = min(a[0], a[1])
        return np.array([r, r, a[2] + r])
    if b.kind == "torus":
        major, minor = _torus_radii(a)
        return np.array([major + minor, major + minor, minor])
    return a


_CIRCLE = np.linspace(0.0, 2.0 * np.pi, 96, endpoint=False)


def _fibonacci_sphere(count: int) -> np.ndarray:
    """Near-uniform unit directions; at 1200 the spacing is ~0.1 rad, an extent error < 0.15 %."""
    z = np.linspace(1.0 - 1.0 / count, -1.0 + 1.0 / count, count)
    angle = np.pi * (3.0 - np.sqrt(5.0)) * np.arange(count)
    rho = np.sqrt(1.0 - z * z)
    return np.stack([rho * np.cos(angle), rho * np.sin(angle), z], axis=1)


_SPHERE = _fibonacci_sphere(1200)


def _extreme_points(b: Block) -> np.ndarray:
    """Local points whose farthest from any point is the block's farthest (its convex hull's extreme points)."""
    a = b.half_extent
    ring = np.stack([np.cos(_CIRCLE), np.sin(_CIRCLE), np.zeros_like(_CIRCLE)], axis=1)
    if b.kind == "box":
        return np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * a
    if b.kind == "ellipsoid":
        return _SPHERE * a
    if b.kind == "cylinder":
        rim = ring * [a[0], a[1], 0.0]
        return np.concatenate([rim + [0, 0, a[2]], rim - [0, 0, a[2]]])
    if b.kind == "cone":
        return np.concatenate([ring * [a[0], a[1], 0.0] - [0, 0, a[2]], [[0.0, 0.0, a[2]]]])
    if b.kind == "capsule":
        r = min(a[0], a[1])
        return np.concatenate([_SPHERE * r + [0, 0, a[2]], _SPHERE * r - [0, 0, a[2]]])
    if b.kind == "torus":
        major, minor = _torus_radii(a)
        ring_angle, tube_angle = (g.ravel() for g in np.meshgrid(_CIRCLE, _CIRCLE[::3]))
        rho = major + minor * np.cos(tube_angle)
        return np.stack([rho * np.cos(ring_angle), rho * np.sin(ring_angle), minor * np.sin(tube_angle)], axis=1)
    raise ValueError(f"unknown block kind {b.kind!r}")


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniform on SO(3): a normalised Gaussian quaternion."""
    w, x, y, z = _unit(rng.normal(size=4))
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _random_axis_permutation(rng: np.random.Generator) -> np.ndarray:
    """One of the 24 rotations that map axes to axes."""
    m = np.eye(3)[rng.permutation(3)] * rng.choice([-1.0, 1.0], size=3)[:, None]
    if np.linalg.det(m) < 0:
        m[2] = -m[2]
    return m


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)
