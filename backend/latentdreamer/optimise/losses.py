"""Image losses between renders and the prior views, shared by the coarse and refine stages.

The normal loss only counts pixels the prior calls object: outside the silhouette the mask
loss is the only judge, and a normal error there would just repeat it with a worse gradient.
"""

from __future__ import annotations

import torch

from latentdreamer.optimise.targets import ViewTargets
from latentdreamer.render.views import RenderedViews


def mask_loss(rendered: RenderedViews, targets: ViewTargets) -> torch.Tensor:
    return (rendered.mask - targets.mask).square().mean()


def normal_loss(rendered: RenderedViews, targets: ViewTargets) -> torch.Tensor:
    """L1 between encoded normals inside the prior's mask; zero in masks-only mode."""
    if targets.normals is None:
        return rendered.mask.sum() * 0
    weight = targets.mask
    error = (rendered.normals - targets.normals).abs().sum(-1, keepdim=True)
    return (weight * error).sum() / weight.sum().clamp(min=1.0)


def mask_weight(step: int, total: int, start: float, end: float, decay_fraction: float) -> float:
    """Geometric decay from `start` to `end` over the first `decay_fraction` of `total` steps:
    the silhouette first, the carving of details by the normals after."""
    span = max(1.0, decay_fraction * total)
    t = min(1.0, step / span)
    return float(start * (end / start) ** t)


def image_terms(rendered: RenderedViews, targets: ViewTargets) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask loss, normal loss) of one render against the priors."""
    return mask_loss(rendered, targets), normal_loss(rendered, targets)
