import numpy as np
import pytest
import trimesh

from latentdreamer.geometry.mesh import Mesh
from latentdreamer.metrics.geometry import (
    chamfer_distance,
    evaluate_geometry,
    f_score,
    sample_surface,
    volume_iou,
)


def _sphere(radius=0.4, centre=(0.0, 0.0, 0.0)) -> Mesh:
    s = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    return Mesh(s.vertices + np.asarray(centre), s.faces)


def _cube(side: float) -> tuple[np.ndarray, np.ndarray]:
    b = trimesh.creation.box(extents=(side, side, side))
    return np.asarray(b.vertices), np.asarray(b.faces)


def test_samples_are_uniform_on_the_surface_and_seeded():
    v, f = _cube(1.0)
    a, b = sample_surface((v, f), 60_000, seed=3), sample_surface((v, f), 60_000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert np.allclose(np.abs(a).max(axis=1), 0.5)  # on the faces
    # Each of the six faces gets a sixth of the points.
    face = np.argmax(np.abs(a), axis=1) * 2 + (a[np.arange(len(a)), np.argmax(np.abs(a), axis=1)] > 0)
    assert np.abs(np.bincount(face, minlength=6) / len(a) - 1 / 6).max() < 0.01
    assert not np.array_equal(a, sample_surface((v, f), 60_000, seed=4))


def test_identical_spheres_score_perfectly():
    s = _sphere()
    scores = evaluate_geometry(s, s, count=20_000)
    # Two independent samples of the same surface are not identical: at 20k points on a
    # unit-diameter sphere the mean nearest-neighbour gap is about 0.5·sqrt(area / count).
    assert scores.chamfer < 0.5 * np.sqrt(np.pi / 20_000) * 1.1
    assert scores.f_score_005 == 1.0 and scores.f_score_002 > 0.98
    assert scores.volume_iou == 1.0


def test_shifted_sphere_matches_analytic_chamfer_and_iou():
    radius, shift = 0.4, 0.02
    a, b = _sphere(radius), _sphere(radius, (shift, 0.0, 0.0))
    # Distance from a point at angle θ to the shifted sphere ≈ shift·|cos θ|, mean shift/2.
    assert chamfer_distance(a, b, count=40_000) == pytest.approx(shift / 2, rel=0.2)
    # All points are within shift of the other sphere: F at τ=0.05 is 1, at τ=0.005 small.
    assert f_score(a, b, 0.05, count=20_000) == 1.0
    assert f_score(a, b, 0.005, count=20_000) < 0.4
    d = 0.2
    lens = np.pi * (4 * radius + d) * (2 * radius - d) ** 2 / 12
    ball = 4 / 3 * np.pi * radius**3
    iou = volume_iou(a, _sphere(radius, (d, 0.0, 0.0)))
    assert iou == pytest.approx(lens / (2 * ball - lens), abs=0.02)


def test_nested_cubes_have_the_analytic_volume_iou():
    # Side 0.5 covers exactly 32^3 of the 64^3 cell centres: IoU (0.5 / 1)^3 = 1/8.
    assert volume_iou(_cube(0.5), _cube(0.999)) == pytest.approx(1 / 8, abs=1e-9)
    assert volume_iou(_cube(0.5), _cube(0.75)) == pytest.approx((0.5 / 0.75) ** 3, abs=0.02)


def test_protocol_normalises_scale_and_position():
    s = _sphere()
    big = Mesh(s.vertices * 7.0 + (3.0, -1.0, 2.0), s.faces)
    scores = evaluate_geometry(big, s, count=20_000)
    assert scores.volume_iou == 1.0 and scores.chamfer < 0.5 * np.sqrt(np.pi / 20_000) * 1.1
    # Without normalisation the same pair is far apart.
    assert chamfer_distance(big, s, count=5_000) > 1.0
