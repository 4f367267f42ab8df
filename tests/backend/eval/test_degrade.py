"""Imperfect views: level 0 is the oracle, each perturbation changes only its own images,
the same seed gives the same views, and the scale error is what the silhouettes measure."""

from __future__ import annotations

import numpy as np
import pytest

from latentdreamer.eval.degrade import BACK_VIEWS, LEVELS, PERTURBATIONS, level, render_degraded
from latentdreamer.geometry.example_object import example_object
from latentdreamer.geometry.normalise import fit_in_sphere
from latentdreamer.pipeline.oracle_views import oracle_views
from latentdreamer.render.cameras import prior_cameras
from latentdreamer.render.silhouette_scale import estimate_view_scale

SIZE = 64


@pytest.fixture(scope="module")
def blob():
    mesh = fit_in_sphere(example_object(seed=3, resolution=32))
    return mesh, oracle_views(mesh, resolution=SIZE)[1]


def _changed(a, b) -> bool:
    return not np.array_equal(a, b)


def test_level_0_is_the_oracle_views_exactly(blob):
    mesh, exact = blob
    got = render_degraded(mesh, level(0), seed=7, resolution=SIZE)
    for name in ("rgb", "alpha", "normals"):
        np.testing.assert_array_equal(getattr(got, name), getattr(exact, name), err_msg=name)
    assert level(0).active() == [] and LEVELS[3].active() == list(PERTURBATIONS)


def test_the_same_seed_gives_the_same_views_and_another_seed_others(blob):
    mesh, _ = blob
    a, b = (render_degraded(mesh, level(2), seed=5, resolution=SIZE) for _ in range(2))
    c = render_degraded(mesh, level(2), seed=6, resolution=SIZE)
    for name in ("rgb", "alpha", "normals"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert _changed(getattr(a, name), getattr(c, name)), name


EXPECTED = {
    "jitter": {"rgb", "alpha", "normals"},
    "scale": {"rgb", "alpha", "normals"},
    "elevation": {"rgb", "alpha", "normals"},
    "colour": {"rgb"},
    "normal_blur": {"normals"},
    "normal_noise": {"normals"},
    "masks": {"alpha"},
    "back": {"rgb", "alpha", "normals"},
}


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_each_perturbation_changes_what_it_should_and_nothing_else(blob, name):
    mesh, exact = blob
    got = render_degraded(mesh, level(3, {name}), seed=1, resolution=SIZE)
    changed = {k for k in ("rgb", "alpha", "normals") if _changed(getattr(got, k), getattr(exact, k))}
    assert changed == EXPECTED[name]
    background = exact.alpha == 0
    if name == "colour":  # the object's colours only: the grey background stays
        np.testing.assert_array_equal(got.rgb[background], exact.rgb[background])
    if name.startswith("normal_"):
        np.testing.assert_array_equal(got.normals[background], exact.normals[background])
        length = np.linalg.norm(got.normals[exact.alpha > 0.99] * 2 - 1, axis=-1)
        np.testing.assert_allclose(length, 1.0, atol=0.02)
    if name == "back":  # only the two views of the object's back see the invented shape
        front = [k for k in range(6) if k not in BACK_VIEWS]
        np.testing.assert_array_equal(got.normals[front], exact.normals[front])
        assert all(_changed(got.normals[k], exact.normals[k]) for k in BACK_VIEWS)


def test_switching_one_perturbation_off_leaves_the_others_draws(blob):
    mesh, _ = blob
    both = render_degraded(mesh, level(2, {"colour", "masks"}), seed=3, resolution=SIZE)
    colour = render_degraded(mesh, level(2, {"colour"}), seed=3, resolution=SIZE)
    masks = render_degraded(mesh, level(2, {"masks"}), seed=3, resolution=SIZE)
    np.testing.assert_array_equal(both.rgb, colour.rgb)
    np.testing.assert_array_equal(both.alpha, masks.alpha)


def test_the_scale_error_is_what_the_silhouettes_measure(blob):
    mesh, exact = blob
    base = estimate_view_scale(exact.alpha, prior_cameras()).scale
    for seed in (0, 1, 2, 3):
        got = render_degraded(mesh, level(3, {"scale"}), seed=seed, resolution=SIZE)
        ratio = estimate_view_scale(got.alpha, prior_cameras()).scale / base
        assert abs(ratio - 1) == pytest.approx(LEVELS[3].scale, abs=0.03)


def test_unknown_levels_and_perturbations_are_refused():
    with pytest.raises(ValueError, match="level 4"):
        level(4)
    with pytest.raises(ValueError, match="unknown perturbations"):
        level(1, {"blur"})


def test_jitter_turns_the_normals_with_the_image():
    """A sphere about the view's centre looks the same turned: its normals must too (a
    rotation that forgot the normals, or turned them the wrong way, is off by the angle)."""
    import trimesh

    from latentdreamer.eval.degrade import Degradation, jitter_views
    from latentdreamer.geometry.mesh import Mesh
    from latentdreamer.pipeline.oracle_views import render_mesh_views

    ball = trimesh.creation.icosphere(subdivisions=4, radius=0.4)
    views = render_mesh_views(Mesh(ball.vertices, ball.faces), prior_cameras(), 96)
    _, _, turned = jitter_views(views.rgb, views.alpha, views.normals, Degradation(jitter_rotation_deg=15.0), seed=0)
    inner = views.alpha > 0.999
    inner[:, :, :] &= np.roll(inner, 3, axis=1) & np.roll(inner, -3, axis=1) & np.roll(inner, 3, axis=2)
    a, b = (n[inner] * 2 - 1 for n in (views.normals, turned))
    angle = np.degrees(np.arccos(np.clip((a * b).sum(-1), -1, 1)))
    assert np.median(angle) < 2.0


def test_only_views_a_perturbation_touches_are_worth_more_than_one_seed() -> None:
    assert level(0).seeds_to_run([0, 1, 2]) == [0]
    assert level(2).seeds_to_run([0, 1, 2]) == [0, 1, 2]
    assert level(2, {"colour"}).seeds_to_run([3, 4]) == [3, 4]
