import numpy as np
import trimesh

from latentdreamer.geometry.winding_number import exact_winding_numbers, winding_numbers


def test_closed_sphere_is_one_inside_zero_outside_and_tree_matches_direct_sum():
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.4)
    rng = np.random.default_rng(0)
    points = rng.uniform(-0.55, 0.55, (2000, 3))
    r = np.linalg.norm(points, axis=1)
    exact = exact_winding_numbers(sphere.vertices, sphere.faces, points)
    fast = winding_numbers(sphere.vertices, sphere.faces, points)
    clear = np.abs(r - 0.4) > 0.01
    np.testing.assert_allclose(exact[clear], (r[clear] < 0.4).astype(float), atol=1e-6)
    assert np.abs(fast - exact).max() < 0.05


def test_flipped_and_open_meshes_degrade_gracefully():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.4)
    centre = np.zeros((1, 3))
    assert np.isclose(winding_numbers(sphere.vertices, sphere.faces[:, ::-1], centre)[0], -1.0, atol=0.05)
    # Remove the faces of the upper cap: the centre still sees most of the sphere.
    keep = sphere.triangles_center[:, 2] < 0.3
    w = winding_numbers(sphere.vertices, sphere.faces[keep], centre)[0]
    assert 0.5 < w < 1.0
