"""texture="uv" end to end at the tiny preset: the result carries a baked texture that shows the
views better than its vertex colours, and the worker's npz carries it to Blender."""

from __future__ import annotations

import numpy as np
import torch

from latentdreamer.api import GenerateSettings
from latentdreamer.metrics.image import psnr
from latentdreamer.optimise.presets import get_preset
from latentdreamer.optimise.targets import view_targets
from latentdreamer.pipeline.generate import PipelineOptions, generate_from_views
from latentdreamer.render.cameras import prior_cameras
from latentdreamer.render.textured import render_textured
from latentdreamer.render.views import render_views


def test_default_result_has_uvs_and_a_texture_that_beats_vertex_colours(oracle, tiny_run):
    _, views = oracle
    result, events, _ = tiny_run
    mesh = result.mesh
    size = get_preset("tiny").bake_resolution
    assert mesh.uvs.shape == (mesh.num_faces, 3, 2) and mesh.texture.shape == (size, size, 3)
    assert mesh.colors is not None  # the vertex colours stay beside the texture
    assert result.stats["texture_size"] == size and result.stats["texture_coverage"] > 0.8
    assert "bake" in result.timings and any(e.stage == "bake" for e in events)
    v, f = torch.from_numpy(mesh.vertices), torch.from_numpy(mesh.faces)
    cams = prior_cameras()
    ref = view_targets(views, 96).rgb
    with torch.no_grad():
        textured = render_textured(v, f, torch.from_numpy(mesh.uvs), torch.from_numpy(mesh.texture), cams, 96)
        coloured = render_views(v, f, cams, 96, colors=torch.from_numpy(mesh.colors[:, :3])).rgb
    assert psnr(textured, ref).mean() > psnr(coloured, ref).mean()


def test_vertex_mode_has_no_texture_and_no_bake(oracle):
    _, views = oracle
    short = get_preset("tiny").with_max_steps(coarse=2, refine=1, texture=2)
    result = generate_from_views(
        views,
        GenerateSettings(preset="tiny", device="cpu", texture="vertex"),
        options=PipelineOptions(preset=short, use_sae=False),
    )
    assert result.mesh.uvs is None and result.mesh.texture is None and result.mesh.colors is not None
    assert "texture_size" not in result.stats


def test_result_npz_carries_corner_uvs_and_the_image(tiny_run, tmp_path):
    from latentdreamer.worker.results import write_mesh_npz

    mesh = tiny_run[0].mesh
    path = tmp_path / "result.npz"
    write_mesh_npz(path, mesh)
    with np.load(path) as data:
        assert data["uvs"].shape == (mesh.num_faces * 3, 2) and data["uvs"].dtype == np.float32
        assert data["texture"].dtype == np.uint8 and data["texture"].shape == mesh.texture.shape
        np.testing.assert_allclose(data["uvs"].reshape(-1, 3, 2), mesh.uvs)
