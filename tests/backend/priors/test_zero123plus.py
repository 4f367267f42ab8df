"""Our Zero123++ sampler end to end on tiny random components saved in the real layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers", reason="the 'diffusion' extra is not installed: pip install -e 'backend[test,diffusion]'")

from latentdreamer.api import Cancelled
from latentdreamer.priors.zero123plus import Zero123Plus

from tiny_diffusion import assert_refuses_pickled_and_incomplete

W, H = 32, 48  # the 2 x 3 grid layout of 640 x 960, scaled down


def _condition(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((32, 32, 3)).astype(np.float32)


def _sample(model: Zero123Plus, cond: np.ndarray, **kw) -> np.ndarray:
    return model.sample(cond, steps=kw.pop("steps", 3), width=W, height=H, **kw)


def test_grid_shape_range_progress_and_determinism(tiny_zero123):
    steps = []
    a = _sample(tiny_zero123, _condition(0), seed=7, on_step=lambda i, n: steps.append((i, n)))
    assert a.shape == (H, W, 3) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.std() > 1e-3
    assert steps == [(1, 3), (2, 3), (3, 3)]
    b = _sample(tiny_zero123, _condition(0), seed=7)
    c = _sample(tiny_zero123, _condition(0), seed=8)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 1e-4


def test_cancellation_between_steps(tiny_zero123):
    done = []
    with pytest.raises(Cancelled) as info:
        _sample(tiny_zero123, _condition(0), steps=5, on_step=lambda i, n: done.append(i), should_cancel=lambda: len(done) >= 2)
    assert done == [1, 2] and info.value.stage == "multi-view diffusion"


def test_reference_attention_carries_the_condition_image(tiny_zero123):
    """With the ramping coefficients zeroed the global (CLIP) path is gone: any effect of the
    condition image on the output must come through reference attention."""
    ramping = tiny_zero123.ramping
    tiny_zero123.ramping = [0.0] * len(ramping)
    try:
        a = _sample(tiny_zero123, _condition(0), seed=3)
        b = _sample(tiny_zero123, _condition(1), seed=3)
        recorded = {}
        tiny_zero123.store.mode = "record"
        try:
            x = torch.zeros(1, 4, 8, 8)
            tiny_zero123.unet(x, torch.tensor(10), encoder_hidden_states=torch.zeros(1, 8, 16), return_dict=False)
            recorded = dict(tiny_zero123.store.tokens)
        finally:
            tiny_zero123.store.mode = "off"
            tiny_zero123.store.tokens.clear()
    finally:
        tiny_zero123.ramping = ramping
    assert np.abs(a - b).mean() > 1e-4
    attn1 = [n for n in tiny_zero123.unet.attn_processors if n.endswith("attn1.processor")]
    assert attn1 and sorted(recorded) == sorted(n.removesuffix(".processor") for n in attn1)


def test_global_conditioning_adds_the_ramped_image_embedding(tiny_zero123):
    cond = torch.from_numpy(_condition(0)).permute(2, 0, 1)[None]
    embeds = tiny_zero123._prompt_embeds(cond, guidance=True)
    uncond, conditioned = embeds[0], embeds[1]
    delta = conditioned - uncond  # = image embedding * ramp[token]
    ramp = torch.tensor(tiny_zero123.ramping)
    per_token = delta / ramp[:, None]
    torch.testing.assert_close(per_token, per_token[:1].expand_as(per_token), rtol=1e-4, atol=1e-5)
    assert per_token.abs().max() > 1e-3
    single = tiny_zero123._prompt_embeds(cond, guidance=False)
    torch.testing.assert_close(single[0], conditioned)


def test_unconditional_reference_is_the_latent_of_a_zero_image(tiny_zero123):
    cond = torch.from_numpy(_condition(0)).permute(2, 0, 1)[None]
    lat = tiny_zero123._reference_latents(cond, True, torch.Generator().manual_seed(0))
    mean_zero = tiny_zero123.vae.encode(torch.zeros(1, 3, 32, 32)).latent_dist.mean
    assert lat.shape == (2, 4, 16, 16)
    std = tiny_zero123.vae.encode(torch.zeros(1, 3, 32, 32)).latent_dist.std
    assert torch.all((lat[0] - mean_zero[0]).abs() <= 6 * std[0])


def test_normal_controlnet_changes_the_result(tiny_zero123):
    colour = _sample(tiny_zero123, _condition(0), seed=2)
    normals = _sample(tiny_zero123, _condition(0), seed=2, control=colour)
    other = _sample(tiny_zero123, _condition(0), seed=2, control=1.0 - colour)
    assert normals.shape == colour.shape
    assert np.abs(normals - colour).mean() > 1e-4 and np.abs(normals - other).mean() > 1e-4


def test_folder_with_only_pickled_weights_is_refused(tiny_models, tmp_path):
    assert_refuses_pickled_and_incomplete(
        Zero123Plus.load, tiny_models / "zero123plus-v1.2", tmp_path / "zero123plus-v1.2", "unet", "vae"
    )
