from __future__ import annotations

import numpy as np
import pytest

from latentdreamer.metrics.image import psnr, ssim


def _image(seed: int = 0, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(6 * x), np.cos(4 * y), x * y], axis=-1) * 0.4 + 0.5
    return np.clip(base + rng.normal(0, 0.02, base.shape), 0, 1)


def test_psnr_matches_its_definition():
    a = _image()
    b = np.clip(a + 0.1, 0, 1)
    mse = np.mean((a - b) ** 2)
    assert psnr(a, b)[0] == pytest.approx(10 * np.log10(1 / mse))
    assert np.isinf(psnr(a, a)[0])


def test_ssim_identity_and_ordering():
    a = _image()
    assert ssim(a, a)[0] == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    slight = np.clip(a + rng.normal(0, 0.02, a.shape), 0, 1)
    strong = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1)
    assert 1.0 > ssim(slight, a)[0] > ssim(strong, a)[0] > 0.0
    # A constant shift hurts SSIM's luminance term only a little, noise hurts structure a lot.
    assert ssim(np.clip(a + 0.05, 0, 1), a)[0] > ssim(strong, a)[0]


def test_ssim_of_a_constant_image_against_itself_is_one_and_batches_work():
    flat = np.full((2, 32, 32, 3), 0.3)
    assert ssim(flat, flat) == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
