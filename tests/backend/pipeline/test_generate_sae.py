"""The latent path (the method) with whatever SAE is at hand: here an untrained small one.

Quality is not the point (an untrained decoder knows no shapes); the point is that the
pipeline runs the latent through decode -> FlexiCubes -> render with gradients reaching z,
and still hands back a closed mesh, whatever the weights.
"""

from __future__ import annotations

import torch
import trimesh

from latentdreamer.api import GenerateSettings
from latentdreamer.models.lin import LIN, LINConfig
from latentdreamer.models.sae import SAE, SAEConfig
from latentdreamer.optimise.presets import get_preset
from latentdreamer.pipeline.generate import PipelineOptions, generate_from_views
from latentdreamer.pipeline.shape_prior import ShapePrior


def _small_sae() -> SAE:
    torch.manual_seed(0)
    cfg = SAEConfig(
        resolution=32,
        encoder_channels=(8, 16),
        decoder_channels=(16, 8, 8),
        feature_channels=8,
        point_hidden=16,
        fourier_bands=3,
        groups=4,
    )
    return SAE(cfg).eval()


def test_latent_path_runs_with_untrained_weights(oracle):
    _, views = oracle
    tiny = get_preset("tiny")
    short = tiny.with_max_steps(coarse=3, refine=1, texture=2)
    sae = _small_sae()
    lin = LIN(LINConfig(cnn_channels=(8, 8, 8), width=16, heads=2, encoder_layers=1, decoder_layers=1, groups=4)).eval()
    history: dict[str, list[float]] = {}
    result = generate_from_views(
        views,
        GenerateSettings(preset="tiny", device="cpu"),
        options=PipelineOptions(preset=short, init="lin", history=history),
        prior=ShapePrior(sae, lin, "test"),
    )
    assert result.stats["shape_prior"] == "test" and result.stats["init"] == "lin"
    assert len(history["coarse"]) == 3 and all(v == v for v in history["coarse"])
    tm = trimesh.Trimesh(result.mesh.vertices, result.mesh.faces, process=False)
    assert result.mesh.num_faces > 0 and tm.is_watertight and tm.volume > 0


def test_initial_latents(oracle):
    """Without a LIN, 'auto' encodes the visual hull; 'zero' is the prior mean."""
    from latentdreamer.optimise.targets import view_targets
    from latentdreamer.pipeline.generate import _initial_latent
    from latentdreamer.render.cameras import prior_cameras
    from latentdreamer.render.visual_hull import visual_hull_sdf

    _, views = oracle
    targets = view_targets(views, 48)
    hull = visual_hull_sdf(targets.mask, prior_cameras(), 24)
    prior = ShapePrior(_small_sae(), None, "test")
    z, how = _initial_latent(prior, "auto", targets, hull)
    assert how == "hull" and z.shape == (1, 8, 8, 8, 8) and z.abs().sum() > 0
    z0, how0 = _initial_latent(prior, "zero", targets, hull)
    assert how0 == "zero" and z0.abs().sum() == 0
