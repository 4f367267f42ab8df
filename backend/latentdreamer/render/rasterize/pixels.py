"""Pixel addressing shared by every stage: centres in NDC and the covered pixels of a buffer."""

from __future__ import annotations

import torch

BOX_SLACK = 1e-7
"""Pixels of slack on each side of a triangle's pixel box in both visibility passes, far
above the box arithmetic's rounding: every centre in the closed bounding box is tested."""


def ndc_centres(index: torch.Tensor, n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """NDC coordinate of pixel centres along an axis of n pixels (row 0 is NDC y = -1).

    The float64 expression order is part of the coverage rules (see the package docstring).
    """
    return ((index.to(dtype) + 0.5) / n) * 2.0 - 1.0


def covered_pixels(rast: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat pixel indices into (B*H*W) and the 0-based triangle id of each covered pixel."""
    ids = rast[..., 3].detach().reshape(-1).to(torch.int64) - 1
    pixel = torch.nonzero(ids >= 0).squeeze(1)
    return pixel, ids.index_select(0, pixel)
