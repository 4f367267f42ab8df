"""Zero-area triangles (a repeated vertex, three points on a line) as scans and exports contain them."""

from __future__ import annotations

import numpy as np
import trimesh

from latentdreamer.geometry.grid import grid_points
from latentdreamer.geometry.mesh_to_sdf import mesh_to_sdf, unsigned_distance_band


def test_a_degenerate_triangle_is_as_far_as_its_segment():
    tri = np.array(
        [
            [[-0.1, 0.0, 0.0], [0.2, 0.0, 0.0], [0.05, 0.0, 0.0]],  # three points on a line
            [[0.0, 0.3, 0.0], [0.0, 0.3, 0.0], [0.0, 0.3, 0.0]],
        ]
    )  # one point, three times
    dist = unsigned_distance_band(tri, 24, 3.0).reshape(-1)
    points = grid_points(24).reshape(-1, 3)
    s = np.clip((points[:, 0] + 0.1) / 0.3, 0, 1)
    to_segment = np.linalg.norm(points - np.stack([-0.1 + 0.3 * s, 0 * s, 0 * s], 1), axis=1)
    to_point = np.linalg.norm(points - [0.0, 0.3, 0.0], axis=1)
    reference = np.minimum(to_segment, to_point)
    near = np.isfinite(dist)
    assert near.sum() > 50
    np.testing.assert_allclose(dist[near], reference[near], atol=1e-6)


def test_mesh_to_sdf_accepts_degenerate_faces_on_the_surface():
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.35)
    v, f = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    a, b = f[0, 0], f[0, 1]
    with_degenerate = np.concatenate([f, [[a, a, b], [b, b, b], [a, b, a]]])  # along an existing edge
    clean = mesh_to_sdf(v, f, 24)
    dirty = mesh_to_sdf(v, with_degenerate, 24)
    np.testing.assert_allclose(dirty, clean, atol=1e-6)
