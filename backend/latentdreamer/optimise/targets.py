"""The prior views as tensors in the renderer's layout, at the resolution a stage renders.

ViewSet images have row 0 at the top (as read from PNG); rendered buffers have row 0 at the
bottom (nvdiffrast convention). The flip happens here, once, so that every loss compares
pixel for pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from latentdreamer.api import ViewSet
from latentdreamer.render.normal_maps import mask_from_normal_map


@dataclass(frozen=True)
class ViewTargets:
    """(6, H, W, C) float tensors, row 0 at the bottom."""

    mask: torch.Tensor
    rgb: torch.Tensor
    normals: torch.Tensor | None
    """Encoded camera-space normals (n + 1) / 2, or None in masks-only mode."""

    @property
    def resolution(self) -> int:
        return int(self.mask.shape[1])


def _resize(images: np.ndarray, resolution: int, device: torch.device) -> torch.Tensor:
    """(B, H, W, C) numpy, row 0 top -> (B, r, r, C) tensor, row 0 bottom (area filter)."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    if x.shape[-1] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="area" if x.shape[-1] > resolution else "bilinear")
    return x.permute(0, 2, 3, 1).flip(1).contiguous().to(device)


def view_masks(views: ViewSet) -> np.ndarray:
    """(V, H, W) the views' silhouettes, row 0 at the top: their alpha, else their normal maps'."""
    if views.alpha is not None:
        return views.alpha
    if views.normals is not None:
        return mask_from_normal_map(views.normals)[..., 0]
    raise ValueError("views need an alpha mask or normal maps to give the object's silhouette")


def view_targets(views: ViewSet, resolution: int, device: torch.device | str = "cpu") -> ViewTargets:
    device = torch.device(device)
    mask = _resize(view_masks(views)[..., None], resolution, device).clamp(0, 1)
    rgb = _resize(views.rgb[..., :3], resolution, device).clamp(0, 1)
    normals = None if views.normals is None else _resize(views.normals[..., :3], resolution, device).clamp(0, 1)
    return ViewTargets(mask=mask, rgb=rgb, normals=normals)
