import numpy as np
from scipy import ndimage

from latentdreamer.geometry.grid import grid_points, voxel_size
from latentdreamer.geometry.sdf_from_occupancy import field_to_sdf, occupancy_to_sdf, squared_distance_transform


def test_distance_transform_matches_scipy_exactly():
    rng = np.random.default_rng(3)
    for shape in [(24, 24, 24), (17, 31, 9)]:
        feature = rng.random(shape) < 0.02
        expected = ndimage.distance_transform_edt(~feature) ** 2
        np.testing.assert_allclose(squared_distance_transform(feature), expected, atol=1e-3)


def test_sphere_sdf_is_close_to_the_analytic_distance():
    n, radius = 64, 0.3
    h = voxel_size(n)
    true = np.linalg.norm(grid_points(n), axis=-1) - radius
    sdf = occupancy_to_sdf(true < 0)
    err = np.abs(sdf - true)
    assert sdf.dtype == np.float32 and sdf.shape == (n, n, n)
    # The surface is placed half-way between samples: never off by more than half a voxel,
    # and about a fifth of a voxel on average near the surface (where losses look).
    assert err.max() < 0.5 * h + 1e-6
    assert err[np.abs(true) < 3 * h].mean() < 0.25 * h
    # Gradient magnitude ~1 in a band around the surface: a true distance, not a scaled one.
    grad = np.linalg.norm(np.stack(np.gradient(sdf, h)), axis=0)
    band = np.abs(true) < 4 * h
    assert abs(np.median(grad[band]) - 1.0) < 0.05


def test_zero_level_lies_between_inside_and_outside_samples():
    occ = np.zeros((20, 20, 20), dtype=bool)
    occ[5:12, 6:15, 4:9] = True
    sdf = occupancy_to_sdf(occ)
    np.testing.assert_array_equal(sdf < 0, occ)
    h = voxel_size(20)
    assert np.allclose(sdf[5, 10, 6], -0.5 * h) and np.allclose(sdf[4, 10, 6], 0.5 * h)


def test_smooth_field_places_the_surface_between_samples():
    n, radius = 64, 0.3
    h = voxel_size(n)
    true = np.linalg.norm(grid_points(n), axis=-1) - radius
    field = np.clip(0.5 - true / (3 * h), 0.0, 1.0)  # a blurred occupancy: 0.5 on the sphere
    refined, plain = field_to_sdf(field), occupancy_to_sdf(field > 0.5)
    np.testing.assert_array_equal(refined < 0, true < 0)
    ring = np.abs(true) < h
    assert np.abs(refined - true)[ring].mean() < 0.08 * h < np.abs(plain - true)[ring].mean()
    assert np.abs(refined - true)[ring].max() < 0.35 * h
    far = np.abs(plain) > h
    np.testing.assert_array_equal(refined[far], plain[far])
