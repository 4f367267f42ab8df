"""Image scores of rendered results against reference views: PSNR and SSIM.

Protocol (stated with every number): RGB in [0, 1] composited over the grey 0.5 background,
whole frame, each view scored separately and averaged. SSIM is Wang et al. 2004 with the
usual constants: 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, data range 1,
computed per channel on 'valid' windows (no padding) and averaged. Written here rather than
pulled from scikit-image or torchmetrics: forty lines do not earn a dependency.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _as_batch(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(H, W, C) or (B, H, W, C) -> (B, C, H, W) float64."""
    t = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images).to(torch.float64)
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4:
        raise ValueError(f"expected (H, W, C) or (B, H, W, C) images, got shape {tuple(t.shape)}")
    return t.permute(0, 3, 1, 2)


def psnr(pred: np.ndarray | torch.Tensor, ref: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-image PSNR in dB (data range 1); identical images give inf."""
    a, b = _as_batch(pred), _as_batch(ref)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    mse = (a - b).square().mean(dim=(1, 2, 3))
    return (10.0 * torch.log10(1.0 / mse)).numpy()


def _gaussian_window(channels: int) -> torch.Tensor:
    x = torch.arange(WINDOW, dtype=torch.float64) - (WINDOW - 1) / 2
    g = torch.exp(-(x**2) / (2 * SIGMA**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, WINDOW, WINDOW).contiguous()


def ssim(pred: np.ndarray | torch.Tensor, ref: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-image mean SSIM in [-1, 1]; 1 for identical images."""
    a, b = _as_batch(pred), _as_batch(ref)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    if min(a.shape[-2:]) < WINDOW:
        raise ValueError(f"images must be at least {WINDOW} pixels on each side")
    c = a.shape[1]
    w = _gaussian_window(c)
    blur = lambda x: F.conv2d(x, w, groups=c)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = K1**2, K2**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean(dim=(1, 2, 3)).numpy()
