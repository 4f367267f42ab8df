from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latentdreamer.api import Callbacks
from latentdreamer.geometry.flexicubes import flexicubes
from latentdreamer.geometry.grid import grid_points
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.optimise.presets import get_preset
from latentdreamer.optimise.progress import JobProgress
from latentdreamer.optimise.targets import view_targets
from latentdreamer.optimise.texture import fit_colour_grid, grid_colours, view_weights
from latentdreamer.pipeline.oracle_views import render_mesh_views
from latentdreamer.render.cameras import orbit_cameras, prior_cameras


def test_view_weight_is_cos_power():
    cams = orbit_cameras([0.0], [0.0])  # at -Y looking at the origin
    points = torch.zeros(1, 4, 3)
    s = math.sin(math.radians(60))
    normals = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [s, -0.5, 0.0]]])
    w = view_weights(points, normals, cams, power=2.0)[0]
    assert w.tolist() == pytest.approx([1.0, 0.0, 0.0, 0.25], abs=1e-5)


def _sphere() -> Mesh:
    sdf = torch.from_numpy(np.linalg.norm(grid_points(24), axis=-1) - 0.35)
    extracted = flexicubes(sdf)
    v = extracted.vertices.numpy()
    colours = np.where(v[:, :1] > 0, [[0.9, 0.1, 0.1, 1.0]], [[0.1, 0.2, 0.9, 1.0]]).astype(np.float32)
    return Mesh(v, extracted.faces.numpy(), colours)


@pytest.mark.parametrize("view_aware", [True, False])
def test_texture_recovers_two_coloured_halves(view_aware):
    torch.set_num_threads(2)
    sphere = _sphere()
    targets = view_targets(render_mesh_views(sphere, resolution=64), 64)
    preset = get_preset("tiny")
    progress = JobProgress(Callbacks(), {"texture": 1.0})
    vertices, faces = torch.from_numpy(sphere.vertices), torch.from_numpy(sphere.faces)
    grid, report = fit_colour_grid(vertices, faces, targets, prior_cameras(), preset, progress, view_aware)
    colours = grid_colours(grid, vertices)
    assert report.steps > 0 and report.losses[-1] < report.losses[0]
    right = sphere.vertices[:, 0] > 0.1
    left = sphere.vertices[:, 0] < -0.1
    got = colours.numpy()
    assert got[right, 0].mean() > 0.6 and got[right, 2].mean() < 0.4
    assert got[left, 2].mean() > 0.6 and got[left, 0].mean() < 0.4
