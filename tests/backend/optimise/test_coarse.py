"""The coarse stage returns the field's full decode, though its steps decode a band."""

from __future__ import annotations

import torch

from latentdreamer.api import Callbacks
from latentdreamer.geometry.example_object import example_object
from latentdreamer.models.sae import SAE, PointDecoder, SAEConfig
from latentdreamer.optimise.coarse import optimise_coarse
from latentdreamer.optimise.presets import get_preset
from latentdreamer.optimise.progress import JobProgress
from latentdreamer.optimise.shape_field import LatentField, seal_boundary
from latentdreamer.optimise.targets import view_targets
from latentdreamer.pipeline.oracle_views import oracle_views
from latentdreamer.render.cameras import prior_cameras
from latentdreamer.render.visual_hull import visual_hull_sdf


class BallHead(PointDecoder):
    """A ball of radius 0.3 moved locally by the latent (read as an 8^3 feature grid)."""

    def forward(self, features: torch.Tensor, points: torch.Tensor, fixed=None) -> torch.Tensor:
        return points.norm(dim=-1) - 0.3 - 0.05 * self.features_at(features, points, fixed).mean(-1)


def test_the_coarse_stage_decodes_a_band_and_returns_the_full_decode():
    torch.manual_seed(0)
    sae = SAE(SAEConfig(resolution=32, encoder_channels=(8, 16), decoder_channels=(16, 8, 8), feature_channels=8, groups=4))
    sae.trunk, sae.head = torch.nn.Identity(), BallHead(sae.config)
    preset = get_preset("tiny").with_max_steps(coarse=10)
    _, views = oracle_views(example_object(seed=7, resolution=32), resolution=64)
    cameras = prior_cameras()
    targets = view_targets(views, preset.render_resolution, torch.device("cpu"))
    field = LatentField(sae, torch.zeros(1, 8, 8, 8, 8), preset.sdf_resolution, refresh_steps=6)
    hull = visual_hull_sdf(targets.mask, cameras, preset.sdf_resolution)
    progress = JobProgress(Callbacks(), {"coarse": 1.0}, 100)
    sdf, report = optimise_coarse(field, targets, cameras, preset, progress, hull)
    assert report.steps == 10 and report.losses[-1] < report.losses[0]
    assert field.full_decodes == 2 + 1, "steps 0 and 7 and the result decoded everything, the rest the band"
    with torch.no_grad():
        exact = seal_boundary(sae.decode_grid(field.z, preset.sdf_resolution)[0])
    torch.testing.assert_close(sdf, exact, atol=1e-6, rtol=0)  # the field reads by PointLookup
    assert field.band_escapes == 0
