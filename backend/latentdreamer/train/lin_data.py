"""LIN training views, made on the fly from random shapes and roughened to look like priors.

A training pair is (six views of a random object, the SAE latent of its SDF). The views are
traced from the SDF grid (render/sdf_views.py) in the six prior cameras, each camera
jittered a little, and then degraded the ways a diffusion prior differs from a clean
render: blurred and noisy normals, masks eroded or dilated by a pixel, and now and then no
normals at all (masks only, as when a user brings RGB views). Everything random comes from
one generator, so a batch is a pure function of (seed, step) and a resumed run sees exactly
the batches an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from latentdreamer.config import strict_from_dict
from latentdreamer.render.cameras import (
    PRIOR_AZIMUTHS_DEG,
    PRIOR_DISTANCE,
    PRIOR_ELEVATIONS_DEG,
    PRIOR_FOV_DEG,
    Cameras,
    orbit_cameras,
)
from latentdreamer.render.normal_maps import BACKGROUND_VALUE, decode_normals, encode_normals
from latentdreamer.render.sdf_views import sdf_views

BLUR_RADIUS = 2
"""Half-width in pixels of the blur kernel (covers sigma up to ~1 px)."""


@dataclass(frozen=True)
class LINDataConfig:
    """How training views are made; part of a run's config (it changes the trajectory)."""

    image_size: int = 64
    supersample: int = 1
    azimuth_jitter_deg: float = 3.0
    elevation_jitter_deg: float = 3.0
    distance_jitter: float = 0.05
    """Relative change of the camera distance per object (the object looks up to 5 % bigger/smaller)."""
    blur_sigma_max: float = 1.0
    """Per-view Gaussian blur of normals and mask, sigma uniform in [0, this] pixels."""
    normal_noise_max: float = 0.05
    """Per-view Gaussian noise on the decoded normals, std uniform in [0, this]."""
    mask_morph_probability: float = 0.3
    """Chance that a view's mask is eroded or dilated by one pixel (half each)."""
    drop_normals_probability: float = 0.25
    """Chance that an object's views come without normals (masks only)."""

    @classmethod
    def from_dict(cls, d: dict) -> LINDataConfig:
        return strict_from_dict(cls, d, "LIN data config")


def _uniform(gen: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=gen)


def jittered_cameras(count: int, cfg: LINDataConfig, gen: torch.Generator) -> Cameras:
    """Six prior cameras per object, each view's azimuth/elevation and each object's distance jittered."""
    v = len(PRIOR_AZIMUTHS_DEG)
    az = torch.tensor(PRIOR_AZIMUTHS_DEG).repeat(count) + _uniform(gen, (count * v,), -1, 1) * cfg.azimuth_jitter_deg
    el = torch.tensor(PRIOR_ELEVATIONS_DEG).repeat(count) + _uniform(gen, (count * v,), -1, 1) * cfg.elevation_jitter_deg
    dist = PRIOR_DISTANCE * (1.0 + _uniform(gen, (count,), -1, 1) * cfg.distance_jitter)
    cams = [
        orbit_cameras(az[i * v : (i + 1) * v].tolist(), el[i * v : (i + 1) * v].tolist(), float(dist[i]), PRIOR_FOV_DEG)
        for i in range(count)
    ]
    return Cameras(torch.cat([c.view for c in cams]), torch.cat([c.proj for c in cams]), torch.cat([c.positions for c in cams]))


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images, each blurred by its own sigma (N,) in pixels (0 = unchanged)."""
    n, c = images.shape[:2]
    x = torch.arange(-BLUR_RADIUS, BLUR_RADIUS + 1, dtype=images.dtype)
    k = torch.exp(-0.5 * (x / sigma.clamp(min=1e-3).unsqueeze(1)) ** 2)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (N*C, K)
    flat = images.reshape(1, n * c, *images.shape[2:])
    pad = (BLUR_RADIUS, BLUR_RADIUS, BLUR_RADIUS, BLUR_RADIUS)
    flat = F.pad(flat, pad, mode="replicate")
    flat = F.conv2d(flat, k[:, None, None, :], groups=n * c)
    flat = F.conv2d(flat, k[:, None, :, None], groups=n * c)
    return flat.reshape(images.shape)


def morph_masks(mask: torch.Tensor, op: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) masks; op (N,) in {-1: erode, 0: keep, +1: dilate} by one pixel (3 x 3)."""
    dilated = F.max_pool2d(mask, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-mask, 3, stride=1, padding=1)
    o = op.view(-1, 1, 1, 1)
    return torch.where(o > 0, dilated, torch.where(o < 0, eroded, mask))


def augment_views(
    mask: torch.Tensor, normals: torch.Tensor, cfg: LINDataConfig, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """mask (B, V, H, W, 1), encoded normals (B, V, H, W, 3) -> degraded (mask, normals, has_normals (B,)).

    Dropped normals come back as background grey; has_normals says which objects kept them.
    """
    b, v, h, w, _ = mask.shape
    n = b * v
    m = mask.reshape(n, h, w, 1).permute(0, 3, 1, 2)
    nrm = decode_normals(normals.reshape(n, h, w, 3).permute(0, 3, 1, 2))
    sigma = _uniform(gen, (n,), 0.0, cfg.blur_sigma_max)
    noise_std = _uniform(gen, (n,), 0.0, cfg.normal_noise_max)
    morph = torch.rand(n, generator=gen) < cfg.mask_morph_probability
    op = torch.where(torch.rand(n, generator=gen) < 0.5, -1, 1) * morph
    has_normals = torch.rand(b, generator=gen) >= cfg.drop_normals_probability
    noise = torch.randn(nrm.shape, generator=gen) * noise_std.view(-1, 1, 1, 1)

    m = gaussian_blur(morph_masks(m, op), sigma).clamp(0.0, 1.0)
    nrm = gaussian_blur(nrm + noise * (m > 0), sigma).clamp(-1.0, 1.0)
    keep = has_normals.repeat_interleave(v).view(-1, 1, 1, 1)
    enc = torch.where(keep, encode_normals(nrm), torch.full_like(nrm, BACKGROUND_VALUE))
    return (
        m.permute(0, 2, 3, 1).reshape(b, v, h, w, 1),
        enc.permute(0, 2, 3, 1).reshape(b, v, h, w, 3),
        has_normals,
    )


def training_views(
    sdf: torch.Tensor, cfg: LINDataConfig, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, n, n, n) SDF grids -> degraded (mask, encoded normals, has_normals) in six jittered prior cameras."""
    cameras = jittered_cameras(sdf.shape[0], cfg, gen)
    mask, normals = sdf_views(sdf, cameras, cfg.image_size, cfg.supersample)
    return augment_views(mask, normals, cfg, gen)
