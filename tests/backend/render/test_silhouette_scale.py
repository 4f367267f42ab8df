"""The views' scale from their silhouettes, checked on oracle masks rendered at known scales."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from latentdreamer.geometry.example_object import example_object
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.geometry.normalise import fit_in_sphere
from latentdreamer.pipeline.oracle_views import render_mesh_views
from latentdreamer.render.cameras import prior_cameras
from latentdreamer.render.silhouette_scale import EXACT_FRAMING_BOUND, ViewScale, estimate_view_scale


def _masks(mesh: Mesh, scale: float, size: int = 192) -> np.ndarray:
    return render_mesh_views(Mesh(mesh.vertices * scale, mesh.faces), prior_cameras(), size).alpha


@pytest.mark.parametrize("scale", [0.6, 0.85, 1.0])
def test_a_sphere_rendered_at_a_known_scale_gives_that_scale(scale):
    ball = trimesh.creation.icosphere(subdivisions=4, radius=0.5)
    got = estimate_view_scale(_masks(Mesh(ball.vertices, ball.faces), scale), prior_cameras())
    assert got.scale == pytest.approx(scale, rel=0.02)
    assert len(got.per_view) == 6 and max(got.per_view) == got.scale


def test_an_object_fitted_in_the_sphere_is_found_at_its_scale():
    blob = fit_in_sphere(example_object(seed=3, resolution=32))
    scales = [estimate_view_scale(_masks(blob, s), prior_cameras()).scale for s in (0.7, 0.85, 1.0)]
    # A lower bound, tight within a few per cent for a generic object, and proportional.
    assert 0.93 <= scales[2] <= 1.01
    np.testing.assert_allclose(np.array(scales) / scales[2], [0.7, 0.85, 1.0], rtol=0.02)


def test_stray_pixels_and_empty_views_do_not_set_the_scale():
    ball = trimesh.creation.icosphere(subdivisions=4, radius=0.5)
    masks = _masks(Mesh(ball.vertices, ball.faces), 0.6).copy()
    masks[0, 0, 0] = 1.0  # a speck in the corner
    masks[5] = 0.0
    got = estimate_view_scale(masks, prior_cameras())
    assert got.scale == pytest.approx(0.6, rel=0.02) and got.per_view[5] == 0.0


@pytest.mark.parametrize(
    ("bound", "zoom"),
    [(1.06, 1.06), (1.0, 1.0), (0.97, 1.0), (0.95, 1.0), (0.90, 0.90 / EXACT_FRAMING_BOUND), (0.0, 1.0)],
)
def test_framing_zooms_only_where_the_silhouettes_say_the_size_is_off(bound, zoom):
    assert ViewScale(bound, (bound,) * 6).framing == pytest.approx(zoom)
