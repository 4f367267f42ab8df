import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from latentdreamer.models.lin import DEFAULT_LIN_WEIGHTS, LIN, LINConfig, export_lin, hull_latent, load_lin
from latentdreamer.models.sae import SAE
from latentdreamer.models.trained_sae import export_sae
from latentdreamer.models.weights_file import WeightsError, read_card
from latentdreamer.train.lin import load_config as lin_config
from latentdreamer.train.sae import load_config as sae_config

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[3]
TINY_SAE = sae_config(ROOT / "configs" / "sae" / "tiny.json")[0]
TINY = lin_config(ROOT / "configs" / "lin" / "tiny.json")[0]
PLAIN = replace(TINY, residual="none")
"""The network alone: its output is the latent (the shipped LIN adds it to the hull's latent)."""


def _views(b: int = 2, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 6, size, size, 1, generator=g), torch.rand(b, 6, size, size, 3, generator=g)


def test_output_has_the_sae_latent_shape_and_config_round_trips():
    torch.manual_seed(0)
    model = LIN(PLAIN)
    z = model.predict(*_views())
    assert z.shape == (2, *TINY_SAE.latent_shape) == (2, *PLAIN.latent_shape)
    assert LINConfig.from_dict(json.loads(TINY.to_json())) == TINY != PLAIN
    with pytest.raises(ValueError, match="unknown"):
        LINConfig.from_dict({"nope": 1})
    with pytest.raises(ValueError, match="views"):
        model(torch.zeros(1, 5, 5, 32, 32))


def test_each_query_fills_its_own_latent_block():
    """Head bias = index of the output number; the block layout must put number
    c*k^3 + a*k^2 + b*k + d of query (gi, gj, gk) at latent (c, gi*k+a, gj*k+b, gk*k+d)."""
    model = LIN(PLAIN)
    k, c = PLAIN.block, PLAIN.latent_channels
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.arange(c * k**3, dtype=torch.float32))
    z = model.predict(*_views(1))[0]
    for ch, x, y, w in [(0, 0, 0, 0), (3, 5, 2, 7), (7, 7, 7, 7), (1, 2, 3, 1)]:
        assert z[ch, x, y, w] == ch * k**3 + (x % k) * k * k + (y % k) * k + (w % k)


def test_prepare_views_masks_only_and_per_object_flags():
    mask, normals = _views(3)
    x = LIN.prepare_views(mask, None)
    assert x.shape == (3, 6, 5, 32, 32)
    assert x[:, :, :3].abs().max() == 0 and x[:, :, 4].max() == 0
    torch.testing.assert_close(x[:, :, 3], mask[..., 0])
    x = LIN.prepare_views(mask, normals, torch.tensor([True, False, True]))
    torch.testing.assert_close(x[0, :, :3], (normals[0] * 2 - 1).permute(0, 3, 1, 2))
    assert x[1, :, :3].abs().max() == 0 and x[1, :, 4].max() == 0 and x[2, :, 4].min() == 1
    # Gradients reach the input: masks-only and with-normals give different latents.
    model = LIN(PLAIN)
    assert not torch.equal(model.predict(mask, None), model.predict(mask, normals))


def _sae_file(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    export_sae(SAE(TINY_SAE), path, {"steps": 0})
    return path


def test_pairing_is_checked_on_load(tmp_path: Path):
    sae_a = _sae_file(tmp_path / "sae_a.safetensors", 0)
    sae_b = _sae_file(tmp_path / "sae_b.safetensors", 1)
    torch.manual_seed(0)
    model = LIN(PLAIN)
    export_lin(model, tmp_path / "lin.safetensors", read_card(sae_a)["sha256"], {"steps": 3})
    loaded = load_lin(tmp_path / "lin.safetensors", sae_card=sae_a)
    views = _views()
    torch.testing.assert_close(loaded.predict(*views), model.eval().predict(*views))
    assert load_lin(tmp_path / "lin.safetensors", sae_card=read_card(sae_a)).config == PLAIN
    with pytest.raises(WeightsError, match="trained against the SAE with sha256"):
        load_lin(tmp_path / "lin.safetensors", sae_card=sae_b)
    with pytest.raises(WeightsError, match="not a LIN"):
        load_lin(sae_a, sae_card=sae_a)


def test_shipped_weights_load_with_the_shipped_sae():
    """The shipped pair must match; if the SAE was re-exported, the LIN must be retrained."""
    from latentdreamer.models.trained_sae import DEFAULT_SAE_WEIGHTS

    if not DEFAULT_LIN_WEIGHTS.is_file():
        pytest.skip(f"no shipped LIN weights at {DEFAULT_LIN_WEIGHTS} yet")
    card = read_card(DEFAULT_LIN_WEIGHTS)
    # Until the SAE ships, check the LIN against the SAE card it names.
    sae_card = None if DEFAULT_SAE_WEIGHTS.is_file() else {"sha256": card["sae_sha256"]}
    model = load_lin(sae_card=sae_card)
    base = torch.zeros(1, 8, 8, 8, 8)  # stands in for the hull latent of a residual LIN
    z = model.predict(*_views(1, model.config.image_size), base=base)
    assert z.shape == (1, 8, 8, 8, 8) and torch.isfinite(z).all()


def test_hull_latent_and_residual_prediction():
    from latentdreamer.geometry.grid import grid_points
    from latentdreamer.render.cameras import prior_cameras
    from latentdreamer.render.sdf_views import sdf_views

    torch.manual_seed(0)
    sae = SAE(TINY_SAE).eval()
    ball = torch.from_numpy(grid_points(32)).norm(dim=-1) - 0.35
    mask, normals = sdf_views(ball[None], prior_cameras(), 32)
    empty = torch.zeros_like(mask)
    z = hull_latent(sae, torch.cat([mask, empty]))
    with torch.no_grad():
        truth, _ = sae.encode(torch.stack([ball, torch.full_like(ball, TINY_SAE.truncation)]))
    assert z.shape == (2, *TINY_SAE.latent_shape)
    torch.testing.assert_close(z[1], truth[1])  # no common volume: encoded as empty space
    assert (z[0] - truth[0]).square().mean() < 0.1 * (
        truth[1] - truth[0]
    ).square().mean()  # the hull of a ball is nearly the ball
    lin = LIN(TINY)
    assert TINY.residual == "hull"
    torch.testing.assert_close(lin.predict(mask, normals, sae=sae), z[:1])  # untrained: exactly the hull
    with pytest.raises(ValueError, match="hull_latent"):
        lin.predict(mask, normals)


def test_a_loaded_residual_lin_finds_its_sae(tmp_path: Path):
    """The pipeline calls predict(mask, normals) without an SAE: load_lin's SAE path serves."""
    sae_path = _sae_file(tmp_path / "sae.safetensors", 0)
    torch.manual_seed(0)
    lin = LIN(TINY)
    with torch.no_grad():
        lin.head.weight.normal_()  # a trained-looking head, so the hull is not the whole answer
    export_lin(lin, tmp_path / "lin.safetensors", read_card(sae_path)["sha256"], {})
    loaded = load_lin(tmp_path / "lin.safetensors", sae_card=sae_path)
    assert "_paired_sae" not in dict(loaded.named_modules()) and all(not k.startswith("_paired") for k in loaded.state_dict())
    mask = torch.zeros(1, 6, 32, 32, 1)
    mask[..., 10:22, 10:22, :] = 1
    normals = torch.full((1, 6, 32, 32, 3), 0.5)
    from latentdreamer.models.trained_sae import load_sae

    first = loaded.predict(mask, normals)
    torch.testing.assert_close(first, loaded.predict(mask, normals, sae=load_sae(sae_path)))
    torch.testing.assert_close(loaded.predict(mask, normals), first)  # the cached SAE serves later calls too
    with pytest.raises(ValueError, match="hull"):
        load_lin(tmp_path / "lin.safetensors", sae_card=read_card(sae_path)).predict(mask, normals)
