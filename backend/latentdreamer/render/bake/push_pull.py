"""Step 4 of the bake: fill every empty texel from its nearest filled neighbours (push-pull).

Texels outside every chart are never shown directly, but bilinear filtering and mipmaps
read them at chart edges; left black they draw dark seams. Push-pull (Gortler et al. 1996)
averages the filled texels down a pyramid (pull) and fills each level's holes from the
coarser level (push), which extends every chart's edge colour outward in O(texels) with no
iteration count to tune, unlike repeated one-texel dilation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def push_pull(image: torch.Tensor, filled: torch.Tensor) -> torch.Tensor:
    """(H, W, C) image and (H, W) bool of valid texels -> (H, W, C) with the rest filled.

    Valid texels keep their values exactly; with no valid texel at all the image is returned
    unchanged.
    """
    if not bool(filled.any()):
        return image
    weight = filled.to(image.dtype)[None, None]
    value = image.permute(2, 0, 1)[None] * weight
    levels: list[tuple[torch.Tensor, torch.Tensor]] = []
    while min(value.shape[-2:]) > 1:
        levels.append((value, weight))
        value = F.avg_pool2d(value, 2, ceil_mode=True)
        weight = F.avg_pool2d(weight, 2, ceil_mode=True)
    coarse = value / weight.clamp(min=1e-12)
    for value, weight in reversed(levels):
        up = F.interpolate(coarse, size=value.shape[-2:], mode="bilinear", align_corners=False)
        own = value / weight.clamp(min=1e-12)
        coarse = torch.where(weight > 0, own, up)
    out = coarse[0].permute(1, 2, 0)
    return torch.where(filled[..., None], image, out)
