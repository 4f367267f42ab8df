import numpy as np
import pytest

from latentdreamer.geometry.grid import OBJECT_RADIUS, grid_points, voxel_size
from latentdreamer.geometry.random_shapes import BLOCK_KINDS, RandomShapeConfig, random_sdf, random_shape


def _shell(sdf: np.ndarray) -> np.ndarray:
    return np.concatenate([sdf[[0, -1]].ravel(), sdf[:, [0, -1]].ravel(), sdf[:, :, [0, -1]].ravel()])


def test_same_seed_same_shape_different_seed_different_shape():
    a, b, c = random_sdf(7, 32), random_sdf(7, 32), random_sdf(8, 32)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (32, 32, 32) and a.dtype == np.float32
    assert np.mean((a < 0) != (c < 0)) > 0.005


@pytest.mark.parametrize("n", [32, 64])
def test_shapes_are_closed_non_empty_and_inside_the_sphere(n):
    points = grid_points(n)
    h = voxel_size(n)
    for seed in range(12):
        sdf = random_sdf(seed, n)
        inside = sdf < 0
        assert inside.sum() >= 8
        assert (_shell(sdf) > 0).all()
        # Inside samples sit at least h/2 within the radius-0.5 sphere, so the surface does too.
        assert np.linalg.norm(points[inside], axis=-1).max() <= OBJECT_RADIUS - 0.5 * h + 1e-6


def test_normalisation_fills_the_sphere():
    # Without blur the union's farthest point reaches the sphere (within a voxel and a half).
    n = 64
    config = RandomShapeConfig(blur_rounds=(0, 0))
    points = grid_points(n)
    for seed in range(6):
        sdf = random_sdf(seed, n, config)
        reach = np.linalg.norm(points[sdf < 0], axis=-1).max()
        assert reach > OBJECT_RADIUS - 1.5 * voxel_size(n)


def test_same_seed_gives_the_same_object_at_every_resolution():
    coarse, fine = random_sdf(5, 32), random_sdf(5, 64)
    # Fine samples at even indices 0, 2, ..., 62 sit close to coarse samples 0..31.
    agree = np.mean((coarse < 0) == (fine[::2, ::2, ::2][:32, :32, :32] < 0))
    assert agree > 0.9


def test_sdf_is_a_distance_near_the_surface():
    n = 64
    h = voxel_size(n)
    sdf = random_sdf(11, n)
    grad = np.linalg.norm(np.stack(np.gradient(sdf, h)), axis=0)
    band = (np.abs(sdf) < 3 * h) & (np.abs(sdf) > 0.6 * h)
    assert abs(np.median(grad[band]) - 1.0) < 0.1


def test_variety_of_kinds_sizes_and_rounding():
    shapes = [random_shape(seed, 32) for seed in range(30)]
    kinds = {b.kind for s in shapes for b in s.blocks}
    assert kinds == set(BLOCK_KINDS)
    assert len({len(s.blocks) for s in shapes}) >= 4
    assert len({len(s.blurs) for s in shapes}) >= 3
    fractions = [np.mean(s.sdf < 0) for s in shapes]
    assert max(fractions) > 3 * min(fractions)


def test_config_restricts_the_generator_and_rejects_nonsense():
    config = RandomShapeConfig(blocks=(1, 1), kinds=("box",), blur_rounds=(0, 0))
    shape = random_shape(3, 32, config)
    assert [b.kind for b in shape.blocks] == ["box"] and shape.blurs == []
    with pytest.raises(ValueError):
        RandomShapeConfig(kinds=("teapot",))
    with pytest.raises(ValueError):
        RandomShapeConfig(blocks=(3, 2))
