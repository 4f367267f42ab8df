from __future__ import annotations

import numpy as np
import torch

from latentdreamer.geometry.flexicubes import flexicubes
from latentdreamer.geometry.grid import grid_points
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.optimise.targets import view_targets
from latentdreamer.pipeline.oracle_views import render_mesh_views
from latentdreamer.render.cameras import prior_cameras
from latentdreamer.render.visual_hull import visual_hull_occupancy, visual_hull_sdf


def _box() -> Mesh:
    """An off-centre box: a wrong flip or axis in the projection moves the hull off it."""
    p = grid_points(32)
    d = np.abs(p - np.array([0.1, -0.05, 0.0])) - np.array([0.2, 0.1, 0.15])
    sdf = d.max(-1)  # exact inside, a lower bound outside: enough for an extraction
    e = flexicubes(torch.from_numpy(sdf.astype(np.float32)))
    return Mesh(e.vertices.numpy(), e.faces.numpy())


def test_hull_contains_the_object_and_little_more():
    box = _box()
    targets = view_targets(render_mesh_views(box, resolution=96), 96)
    occ = visual_hull_occupancy(targets.mask, prior_cameras(), 32)
    p = grid_points(32)
    inside = (np.abs(p - np.array([0.1, -0.05, 0.0])) < np.array([0.18, 0.08, 0.13])).all(-1)
    assert occ[inside].mean() > 0.99
    near = (np.abs(p - np.array([0.1, -0.05, 0.0])) < np.array([0.3, 0.2, 0.25])).all(-1)
    assert not occ[~near].any()
    sdf = visual_hull_sdf(targets.mask, prior_cameras(), 32)
    assert isinstance(sdf, torch.Tensor) and (sdf[torch.from_numpy(inside)] < 0).all()
