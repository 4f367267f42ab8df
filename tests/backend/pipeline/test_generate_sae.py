"""The latent path (the method) with whatever SAE is at hand: here an untrained small one.

Quality is not the point (an untrained decoder knows no shapes); the point is that the
pipeline runs the latent through decode -> FlexiCubes -> render with gradients reaching z,
and still hands back a closed mesh, whatever the weights.
"""

from __future__ import annotations

import dataclasses

import torch
import trimesh

from latentdreamer.models.sae import SAE, SAEConfig
from latentdreamer.pipeline.api import GenerateSettings
from latentdreamer.pipeline.generate import PipelineOptions, generate_from_views
from latentdreamer.pipeline.presets import get_preset
from latentdreamer.pipeline.shape_prior import ShapePrior


def _small_sae() -> SAE:
    torch.manual_seed(0)
    cfg = SAEConfig(resolution=32, encoder_channels=(8, 16), decoder_channels=(16, 8, 8), feature_channels=8,
                    point_hidden=16, fourier_bands=3, groups=4)
    return SAE(cfg).eval()


def test_latent_path_runs_with_untrained_weights(oracle):
    _, views = oracle
    tiny = get_preset("tiny")
    short = dataclasses.replace(tiny, coarse=dataclasses.replace(tiny.coarse, max_steps=3, min_steps=0),
                                refine=dataclasses.replace(tiny.refine, max_steps=1), texture=dataclasses.replace(tiny.texture, max_steps=2, min_steps=0))
    sae = _small_sae()
    history: dict[str, list[float]] = {}
    result = generate_from_views(
        views, GenerateSettings(preset="tiny", device="cpu"),
        options=PipelineOptions(preset=short, init="hull", history=history), prior=ShapePrior(sae, None, "test"),
    )
    assert result.stats["shape_prior"] == "test" and result.stats["init"] == "hull"
    assert len(history["coarse"]) == 3 and all(v == v for v in history["coarse"])
    tm = trimesh.Trimesh(result.mesh.vertices, result.mesh.faces, process=False)
    assert result.mesh.num_faces > 0 and tm.is_watertight and tm.volume > 0
