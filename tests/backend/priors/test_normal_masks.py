"""Masks from generated normal maps: a rendered-like sphere view with known silhouette."""

from __future__ import annotations

import numpy as np
import pytest

from latentdreamer.priors import normal_masks
from latentdreamer.priors.normal_masks import trimap_from_normals, view_mask

N = 32


def _sphere_view(radius: float = 0.35) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:N, 0:N]
    cx = (x + 0.5 - N / 2) / (N * radius)
    cy = -(y + 0.5 - N / 2) / (N * radius)
    inside = cx**2 + cy**2 < 1
    n = np.stack([cx, cy, np.sqrt(np.clip(1 - cx**2 - cy**2, 0, 1))], axis=-1)
    normal_rgb = np.where(inside[..., None], (n + 1) / 2, 0.5).astype(np.float32)
    rgb = np.where(inside[..., None], np.array([0.9, 0.2, 0.1]), 127 / 255).astype(np.float32)
    return rgb, normal_rgb, inside


def test_trimap_is_eroded_on_both_sides():
    _, normal_rgb, inside = _sphere_view()
    trimap = trimap_from_normals(normal_rgb * 2 - 1)
    assert trimap[N // 2, N // 2] == 1.0 and trimap[0, 0] == 0.0
    edge = inside & ~np.roll(inside, 1, axis=1)  # object pixels on the left silhouette
    assert np.all(trimap[edge] == 0.5)  # erosion leaves an unknown band at the edge


@pytest.mark.parametrize("matting", [True, False])
def test_alpha_matches_the_silhouette_and_normals_fade_to_grey(matting):
    rgb, normal_rgb, inside = _sphere_view()
    result = view_mask(rgb, normal_rgb, matting=matting)
    assert np.abs(result.alpha - inside).mean() < 0.02
    assert result.method == ("closed-form matting" if matting and normal_masks.pymatting_available() else "soft trimap")
    np.testing.assert_allclose(result.normals[0, 0], 0.5, atol=1e-3)
    n = result.normals[N // 2, N // 2] * 2 - 1
    assert abs(np.linalg.norm(n) - 1) < 1e-3
    assert np.allclose(result.rgb[N // 2, N // 2], [0.9, 0.2, 0.1], atol=0.02)


def test_without_pymatting_says_so(monkeypatch):
    rgb, normal_rgb, _ = _sphere_view()
    monkeypatch.setattr(normal_masks, "pymatting_available", lambda: False)
    assert view_mask(rgb, normal_rgb).method == "soft trimap (pymatting not installed)"
