"""The normal-map encoding shared by the prior, the renderer and the losses (docs/design.md §4).

Camera-space normals (OpenGL: x right, y up, z toward the camera) are stored as
RGB = (n + 1) / 2, so the background grey 0.5 is n = 0. Zero123++'s normal ControlNet
uses this encoding; if its axes turn out different, this module is the one place to
change.
"""

from __future__ import annotations

import numpy as np
import torch

FOREGROUND_NORM = 0.6
"""|n| above this is certainly object."""
BACKGROUND_NORM = 0.2
"""|n| below this is certainly background."""
BACKGROUND_VALUE = 0.5


def encode_normals(normals: torch.Tensor) -> torch.Tensor:
    return (normals + 1.0) * 0.5


def decode_normals(encoded: torch.Tensor) -> torch.Tensor:
    return encoded * 2.0 - 1.0


def mask_from_normal_map(normal_map: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """(..., 3|4) encoded normal map (float in [0, 1] or uint8) -> (..., 1) float soft mask:
    1 where |n| > 0.6, 0 where |n| < 0.2, linear in between (generated normal maps fade into the grey background)."""
    as_numpy = isinstance(normal_map, np.ndarray)
    encoded = torch.from_numpy(normal_map) if as_numpy else normal_map
    rgb = encoded[..., :3].float() / 255.0 if encoded.dtype == torch.uint8 else encoded[..., :3].float()
    length = decode_normals(rgb).norm(dim=-1, keepdim=True)
    mask = ((length - BACKGROUND_NORM) / (FOREGROUND_NORM - BACKGROUND_NORM)).clamp(0.0, 1.0)
    return mask.numpy() if as_numpy else mask
