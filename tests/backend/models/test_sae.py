import json

import numpy as np
import pytest
import torch

from latentdreamer.geometry.grid import grid_points, grid_points_tensor, sample_grid
from latentdreamer.models.sae import SAE, SAEConfig, kl_divergence

TINY = dict(
    resolution=32,
    encoder_channels=(8, 16),
    decoder_channels=(16, 8, 8),
    feature_channels=8,
    point_hidden=16,
    fourier_bands=3,
    groups=4,
)


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_config_json_round_trip_and_validation():
    cfg = SAEConfig(**TINY)
    again = SAEConfig.from_dict(json.loads(cfg.to_json()))
    assert again == cfg
    with pytest.raises(ValueError, match="resolution"):
        SAEConfig(resolution=48)
    with pytest.raises(ValueError, match="unknown"):
        SAEConfig.from_dict({"resolution": 32, "bogus": 1})


def test_sample_grid_follows_the_grid_convention():
    # A linear function is reproduced exactly by trilinear interpolation, so any axis mix-up shows.
    n = 9
    p = grid_points(n)
    values = torch.from_numpy(p[..., 0] + 2 * p[..., 1] + 3 * p[..., 2])[None, None]
    pts = torch.rand(1, 50, 3, generator=torch.Generator().manual_seed(0)) - 0.5
    got = sample_grid(values, pts)[0, :, 0]
    want = pts[0, :, 0] + 2 * pts[0, :, 1] + 3 * pts[0, :, 2]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    assert np.allclose(grid_points_tensor(n).numpy(), p.reshape(-1, 3))


@pytest.mark.parametrize("decoder", ["points", "dense"])
def test_shapes_and_grid_matches_points(decoder):
    torch.manual_seed(0)
    model = SAE(SAEConfig(**TINY, decoder=decoder)).eval()
    sdf = torch.randn(2, 32, 32, 32) * 0.05
    mean, logvar = model.encode(sdf)
    assert mean.shape == logvar.shape == (2, 8, 8, 8, 8)
    with torch.no_grad():
        grid = model.decode_grid(mean, 20)
        pts = grid_points_tensor(20).expand(2, -1, -1)
        at_points = model.decode_points(mean, pts).clamp(-0.1, 0.1).reshape(2, 20, 20, 20)
    assert grid.shape == (2, 20, 20, 20)
    assert grid.abs().max() <= model.config.truncation
    torch.testing.assert_close(grid, at_points, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="encodes 32"):
        model.encode(torch.zeros(1, 16, 16, 16))


def test_decode_is_differentiable_to_the_latent():
    model = SAE(SAEConfig(**TINY))
    z = torch.zeros(1, 8, 8, 8, 8, requires_grad=True)
    model.decode_grid(z, 16).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zero = torch.zeros(1, 8, 8, 8, 8)
    assert kl_divergence(zero, zero).item() == 0.0
    assert kl_divergence(zero + 1.0, zero).item() == pytest.approx(0.5)


def test_coarse_to_fine_decode_is_exact_near_the_surface():
    from latentdreamer.models.sae import SPARSE_BAND_CELLS, PointDecoder

    class SphereHead(PointDecoder):
        """A sphere of radius 0.3 plus a small latent-dependent ripple: a known surface."""

        def forward(self, features, points, fixed=None):
            return points.norm(dim=-1) - 0.3 + 0.01 * self.features_at(features, points, fixed).mean(-1)

    torch.manual_seed(0)
    model = SAE(SAEConfig(**TINY)).eval()
    model.head = SphereHead(model.config)
    z = torch.randn(1, 8, 8, 8, 8, requires_grad=True)
    n = 48
    sparse = model.decode_grid(z, n)
    exact = model.decode_grid(z, n, exact=True).detach()
    band = SPARSE_BAND_CELLS * 1.1 / ((n + 1) // 2 - 1)
    near = sparse.detach().abs() < band
    assert 0.05 < near.float().mean() < 0.5
    assert torch.equal(sparse.detach() < 0, exact < 0)
    torch.testing.assert_close(sparse.detach()[near], exact[near], atol=1e-6, rtol=0)
    sparse.sum().backward()
    assert z.grad.abs().sum() > 0


def test_fixed_points_decode_as_the_plain_decoder_in_value_and_gradient():
    torch.manual_seed(3)
    model = SAE(SAEConfig(**TINY)).eval().requires_grad_(False)
    z = torch.randn(1, *model.config.latent_shape, requires_grad=True)
    points = (torch.rand(500, 3) * 2 - 1) * 0.55
    features = model.trunk(z)
    fixed = model.fix_points(points, features)
    plain = model.decode_points(z, points[None], features)
    fast = model.decode_points(z, points[None], features, fixed)
    torch.testing.assert_close(fast, plain, atol=1e-6, rtol=0)
    (g_plain,) = torch.autograd.grad(plain.square().sum(), z, retain_graph=True)
    (g_fast,) = torch.autograd.grad(fast.square().sum(), z)
    torch.testing.assert_close(g_fast, g_plain, atol=1e-6, rtol=1e-4)
    index = torch.tensor([4, 0, 499, 250])
    sub = model.decode_points(z, points[index][None], features, fixed.rows(index))
    torch.testing.assert_close(sub, plain[:, index], atol=1e-6, rtol=0)
    dense = SAE(SAEConfig(**{**TINY, "decoder": "dense"}))
    assert dense.fix_points(points, dense.trunk(z.detach())) is None, "the dense head has nothing to fix"
