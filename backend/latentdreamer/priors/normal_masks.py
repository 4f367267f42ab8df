"""Masks for the generated views, read from the generated normal maps.

The normal ControlNet paints the background as n = 0 (grey 0.5), so the length of the
decoded normal says how sure we are a pixel is object: |n| > 0.6 certain object, < 0.2
certain background (docs/design.md §5). Both certain regions are eroded by a 4x4 block and the
band between them is solved by closed-form alpha matting on the colour view, which follows
real edges in the colour image instead of the blurrier normal map.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from latentdreamer.render.normal_maps import BACKGROUND_NORM, FOREGROUND_NORM, decode_normals, mask_from_normal_map

ERODE = np.ones((4, 4), dtype=bool)


@dataclass(frozen=True)
class ViewMask:
    alpha: np.ndarray
    """(H, W) in [0, 1]."""
    rgb: np.ndarray
    """(H, W, 3) foreground colour (matting's estimate, or the input colour)."""
    normals: np.ndarray
    """(H, W, 3) unit normals encoded (n + 1) / 2, blended to grey 0.5 by alpha."""
    method: str


def trimap_from_normals(normals: np.ndarray) -> np.ndarray:
    """1 certain object, 0 certain background, 0.5 unknown."""
    length = np.linalg.norm(normals, axis=-1)
    fg = ndimage.binary_erosion(length > FOREGROUND_NORM, structure=ERODE, border_value=0)
    bg = ndimage.binary_erosion(length < BACKGROUND_NORM, structure=ERODE, border_value=1)
    trimap = np.full(length.shape, 0.5, dtype=np.float64)
    trimap[bg] = 0.0
    trimap[fg] = 1.0
    return trimap


def soft_alpha(normal_rgb: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Without matting: the certain regions as they are, the band ramped by |n|."""
    ramp = mask_from_normal_map(np.ascontiguousarray(normal_rgb, dtype=np.float32))[..., 0]
    return np.where(trimap == 0.5, ramp, trimap).astype(np.float32)


def pymatting_available() -> bool:
    return importlib.util.find_spec("pymatting") is not None


def view_mask(rgb: np.ndarray, normal_rgb: np.ndarray, matting: bool = True) -> ViewMask:
    """Alpha, clean colour and masked normals for one view ((H, W, 3) arrays in [0, 1])."""
    normals = decode_normals(normal_rgb.astype(np.float32))  # the one place that knows the axis convention
    trimap = trimap_from_normals(normals)
    colour = rgb.astype(np.float32)
    if matting and pymatting_available() and 0 < (trimap == 1.0).sum() and (trimap == 0.0).sum() > 0:
        from pymatting import estimate_alpha_cf, estimate_foreground_ml

        image = rgb.astype(np.float64)
        alpha = np.clip(estimate_alpha_cf(image, trimap), 0.0, 1.0)
        colour = np.clip(estimate_foreground_ml(image, alpha), 0.0, 1.0).astype(np.float32)
        alpha = alpha.astype(np.float32)
        method = "closed-form matting"
    else:
        alpha = soft_alpha(normal_rgb, trimap)
        method = "soft trimap (pymatting not installed)" if matting and not pymatting_available() else "soft trimap"
    length = np.linalg.norm(normals, axis=-1, keepdims=True)
    unit = np.where(length > 1e-6, normals / np.maximum(length, 1e-6), 0.0)
    encoded = (unit + 1.0) / 2.0
    a = alpha[..., None]
    return ViewMask(alpha=alpha, rgb=colour, normals=(encoded * a + 0.5 * (1.0 - a)).astype(np.float32), method=method)
