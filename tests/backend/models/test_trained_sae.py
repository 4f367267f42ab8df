from pathlib import Path

import pytest
import torch
import trimesh

from latentdreamer.geometry.mesh import Mesh
from latentdreamer.models.sae import SAE, SAEConfig
from latentdreamer.models.trained_sae import (
    DEFAULT_SAE_WEIGHTS,
    decode_mesh,
    decode_sdf,
    encode_mesh,
    export_sae,
    load_sae,
    load_sae_checkpoint,
    sample_prior,
)
from latentdreamer.models.weights_file import WeightsError

TINY = dict(
    resolution=32,
    encoder_channels=(8, 16),
    decoder_channels=(16, 8, 8),
    feature_channels=8,
    point_hidden=16,
    fourier_bands=3,
    groups=4,
)


def test_export_load_encode_decode(tmp_path: Path):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = SAE(SAEConfig(**TINY)).eval()
    export_sae(model, tmp_path / "sae.safetensors", {"steps": 0})
    loaded = load_sae(tmp_path / "sae.safetensors")
    assert loaded.config == model.config
    ball = trimesh.creation.icosphere(subdivisions=2, radius=3.0)
    z = encode_mesh(loaded, Mesh(ball.vertices, ball.faces))
    assert z.shape == (1, 8, 8, 8, 8)
    torch.testing.assert_close(decode_sdf(loaded, z, 16), decode_sdf(model, z, 16))
    # A latent whose decode is a known shape meshes to that shape: make the point MLP's
    # output bias dominate so the decoded SDF is (almost) constant negative -> no surface.
    with torch.no_grad():
        loaded.head.mlp[-1].bias.fill_(-5.0)
        loaded.head.mlp[-1].weight.zero_()
    assert decode_mesh(loaded, z, 16).num_faces == 0
    g = torch.Generator().manual_seed(1)
    assert sample_prior(model, 3, g).shape == (3, 8, 8, 8, 8)
    with pytest.raises(WeightsError):
        load_sae(tmp_path / "missing.safetensors")


def test_shipped_weights_load():
    if not DEFAULT_SAE_WEIGHTS.exists():
        pytest.skip(f"shipped SAE weights not exported yet ({DEFAULT_SAE_WEIGHTS})")
    model = load_sae()
    assert model.config.resolution in (32, 64)
    with torch.no_grad():
        sdf = model.decode_grid(torch.zeros(1, *model.config.latent_shape), 16)
    assert torch.isfinite(sdf).all()


def test_checkpoint_loads_as_model(tmp_path: Path):
    from latentdreamer.models.checkpoint import save_checkpoint

    model = SAE(SAEConfig(**TINY))
    opt = torch.optim.Adam(model.parameters())
    save_checkpoint(tmp_path, model, opt, 3, {"model": model.config.to_dict()})
    again = load_sae_checkpoint(tmp_path)
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
