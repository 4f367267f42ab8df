import numpy as np
import pytest

from latentdreamer.geometry.mesh import Mesh
from latentdreamer.geometry.normalise import fit_in_sphere, fit_in_unit_box, sphere_normalisation, unit_box_normalisation


def _mesh() -> Mesh:
    rng = np.random.default_rng(1)
    vertices = rng.normal(size=(50, 3)) * (3.0, 1.0, 0.5) + (10.0, -4.0, 2.0)
    vertices = np.concatenate([vertices, [[1e3, 1e3, 1e3]]])  # unreferenced: must not count
    return Mesh(vertices, rng.integers(0, 50, (80, 3)))


def test_sphere_normalisation_centres_the_box_and_touches_the_sphere():
    mesh = fit_in_sphere(_mesh())
    used = mesh.vertices[np.unique(mesh.faces)]
    np.testing.assert_allclose(used.min(0) + used.max(0), 0.0, atol=1e-5)
    assert np.isclose(np.linalg.norm(used, axis=1).max(), 0.5, atol=1e-6)


def test_unit_box_normalisation_gives_longest_side_one_and_inverts():
    original = _mesh()
    norm = unit_box_normalisation(original)
    mesh = norm.mesh(original)
    used = mesh.vertices[np.unique(mesh.faces)]
    np.testing.assert_allclose((used.max(0) - used.min(0)).max(), 1.0, atol=1e-6)
    np.testing.assert_allclose(used.min(0) + used.max(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(norm.invert(mesh.vertices), original.vertices, rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(fit_in_unit_box(original).faces, original.faces)


def test_degenerate_meshes_are_rejected():
    with pytest.raises(ValueError):
        sphere_normalisation(Mesh(np.zeros((3, 3)), [[0, 1, 2]]))
    with pytest.raises(ValueError):
        unit_box_normalisation(Mesh(np.zeros((0, 3)), np.zeros((0, 3))))
