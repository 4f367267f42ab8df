import numpy as np
import pytest

from latentdreamer.geometry.grid import OBJECT_RADIUS, grid_points
from latentdreamer.geometry.thin_shapes import (
    THIN_KINDS,
    Part,
    ThinShapeConfig,
    sdf_grid,
    thin_distance,
    thin_parts,
    thin_sdf,
    thin_shape,
)

CONFIG = ThinShapeConfig()


def _single(kind: str) -> ThinShapeConfig:
    return ThinShapeConfig(parts=(1, 1), kinds=(kind,), legs_probability=0.0)


def _core_point(p: Part) -> np.ndarray:
    """A point of the part's core (the set it dilates), in the object frame."""
    a = p.size
    local = {
        "plate": [0.0, 0.0, 0.0],
        "disk": [0.0, 0.0, 0.0],
        "rod": [0.0, 0.0, 0.0],
        "ring": [a[0], 0.0, 0.0],
        "frame": [a[0], 0.0, 0.0],
        "box_frame": list(a),
    }.get(p.kind)
    if local is None:  # shells: the bottom of the base solid, below any cut
        local = [0.0, 0.0, -(a[2] + (a[0] if p.base == "capsule" else 0.0))]
    return p.centre + p.rotation @ np.asarray(local)


def test_same_seed_same_shape_different_seed_different_shape():
    a, b, c = thin_sdf(3, 32), thin_sdf(3, 32), thin_sdf(4, 32)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (32, 32, 32) and a.dtype == np.float32
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", [k for k in THIN_KINDS if k != "solid"])
def test_each_thin_kind_is_thin_and_holds_its_wall(kind):
    pts = grid_points(96).reshape(-1, 3).astype(np.float64)
    for seed in range(4):
        parts = thin_parts(seed, _single(kind))
        (part,) = parts
        half_wall = 0.5 * max(CONFIG.wall[1], CONFIG.rod_diameter[1])
        assert part.thickness <= half_wall
        # Nowhere deeper than half the wall: the part is thin everywhere ...
        assert thin_distance(parts, pts).min() >= -half_wall - 1e-9
        # ... yet solid at its core, wall for wall.
        core = _core_point(part)
        assert thin_distance(parts, core[None])[0] == pytest.approx(-part.thickness, abs=1e-9)


@pytest.mark.parametrize("kind", ["plate", "disk", "shell"])
def test_walls_are_a_few_millimetres_to_two_centimetres(kind):
    walls = [2 * thin_parts(s, _single(kind))[0].thickness for s in range(40)]
    assert min(walls) >= CONFIG.wall[0] - 1e-12 and max(walls) <= CONFIG.wall[1] + 1e-12
    assert max(walls) > 2 * min(walls)  # the range is used, not one thickness


def test_distances_are_exact_outside():
    # |grad d| = 1 wherever the distance is exact: outside a union of exact parts.
    rng = np.random.default_rng(0)
    for seed in range(6):
        parts = thin_parts(seed)
        p = rng.uniform(-0.55, 0.55, (4000, 3))
        d = thin_distance(parts, p)
        p = p[d > 0.005]
        eps = 1e-5
        grad = np.stack(
            [(thin_distance(parts, p + e) - thin_distance(parts, p - e)) / (2 * eps) for e in np.eye(3) * eps], axis=1
        )
        assert np.median(np.abs(np.linalg.norm(grad, axis=1) - 1.0)) < 1e-4
        assert np.quantile(np.abs(np.linalg.norm(grad, axis=1) - 1.0), 0.99) < 1e-3


@pytest.mark.parametrize("n", [32, 64])
def test_shapes_are_closed_and_inside_the_sphere(n):
    points = grid_points(n)
    fine = grid_points(96).reshape(-1, 3).astype(np.float64)
    for seed in range(10):
        shape = thin_shape(seed, n)
        assert (shape.sdf[[0, -1]] > 0).all() and (shape.sdf[:, [0, -1]] > 0).all()
        assert (shape.sdf[:, :, [0, -1]] > 0).all()
        inside = fine[thin_distance(shape.parts, fine) < 0]
        assert len(inside) and np.linalg.norm(inside, axis=1).max() <= OBJECT_RADIUS + 1e-9
        # The grid is the exact distance at the vertices, clamped to the truncation band.
        exact = np.clip(thin_distance(shape.parts, points.reshape(-1, 3).astype(np.float64)), -0.1, 0.1)
        np.testing.assert_allclose(shape.sdf.reshape(-1), exact, atol=1e-6)


def test_grid_band_is_a_clamp_only():
    parts = thin_parts(5)
    wide, narrow = sdf_grid(parts, 32, band=1.0), sdf_grid(parts, 32, band=0.05)
    np.testing.assert_allclose(np.clip(wide, -0.05, 0.05), narrow, atol=1e-6)


def test_the_mix_has_legs_shells_and_open_shells():
    parts = [p for s in range(60) for p in thin_parts(s)]
    kinds = {p.kind for p in parts}
    assert kinds == set(THIN_KINDS)
    assert any(p.kind == "shell" and p.cut is not None for p in parts)
    assert any(p.kind == "shell" and p.cut is None for p in parts)
    # Legs: at least one object has three or more parallel rods sharing a radius.
    legged = 0
    for s in range(60):
        rods = [p for p in thin_parts(s) if p.kind == "rod"]
        radii = [round(p.thickness, 12) for p in rods]
        legged += any(radii.count(r) >= 3 for r in radii)
    assert legged >= 3


def test_config_is_checked():
    with pytest.raises(ValueError, match="kinds"):
        ThinShapeConfig(kinds=("teapot",))
    with pytest.raises(ValueError, match="wall"):
        ThinShapeConfig(wall=(0.0, 0.01))
