"""Image losses between renders and the prior views, shared by the coarse and refine stages.

The normal loss only counts pixels the prior calls object: outside the silhouette the mask
loss is the only judge, and a normal error there would just repeat it with a worse gradient.

Generated views disagree with each other (docs/design.md §2.4): invented backs, noisy or
smoothed normal maps, views framed a little off. A least-squares fit to all of them lands
between them, and the views that are most wrong pull hardest. So the normal loss weighs what
it compares by how far it is to be trusted, in two ways that both reduce to the published
L1 when every view agrees:
- per pixel, the error e is taken as c log(1 + e / c) (`normal_robust_scale` c): L1 while a
  pixel is within about c of the view, flattening beyond, so a pixel whose normal is far off
  (the detail of an invented back, noise) pulls as 1 / (1 + e / c) of a pixel that fits;
- per view, each view's mean error is weighted by a Cauchy kernel of it against the median
  view's (`view_confidence`): a view that disagrees with the shape the others agree on pulls
  less, and with views that agree every weight stays near 1.
Both weights follow the detached residuals of the current step (iteratively reweighted least
squares), so nothing is ever dropped for good. The mask loss weighs the views alike: a thin
part one view shows is often that view's disagreement with the others, and the only
evidence there is of it (per-view weights on it cost the armchair its frame).
"""

from __future__ import annotations

import torch

from latentdreamer.optimise.targets import ViewTargets
from latentdreamer.render.views import RenderedViews

PLAIN_LOSSES = {"view_confidence": 0.0, "normal_robust_scale": 0.0}
"""The Preset fields that make these the published losses, every view and pixel alike (the
ablation of eval generate and benchmarks/bench_view_robustness.py)."""


def view_confidence(residuals: torch.Tensor, scale: float) -> torch.Tensor:
    """(V,) weights of mean 1 from (V,) per-view residuals: 1 / (1 + (r / (scale * median r))^2).

    `scale` says how many medians away a view's residual must be to count half; 0 weighs
    every view alike (the published loss).
    """
    if scale <= 0:
        return torch.ones_like(residuals)
    r = residuals.detach()
    c = scale * r.median().clamp(min=1e-12)
    weights = 1.0 / (1.0 + (r / c).square())
    return weights / weights.mean()


def mask_loss(rendered: RenderedViews, targets: ViewTargets) -> torch.Tensor:
    return (rendered.mask - targets.mask).square().mean()


def normal_loss(
    rendered: RenderedViews,
    targets: ViewTargets,
    view_scale: float = 0.0,
    pixel_scale: float = 0.0,
) -> torch.Tensor:
    """L1 between encoded normals inside the prior's mask, each pixel's error e taken as
    c log(1 + e / c) for `pixel_scale` c > 0, each view's mean weighted by `view_confidence`
    at `view_scale`; zero in masks-only mode."""
    if targets.normals is None:
        return rendered.mask.sum() * 0
    weight = targets.mask
    error = (rendered.normals - targets.normals).abs().sum(-1, keepdim=True)
    if pixel_scale > 0:
        error = pixel_scale * torch.log1p(error / pixel_scale)
    pixels = weight.sum(dim=(1, 2, 3))
    per_view = (weight * error).sum(dim=(1, 2, 3)) / pixels.clamp(min=1.0)
    # Each view counted by its share of the pixels, as one mean over all six would.
    share = pixels / pixels.sum().clamp(min=1.0)
    return (view_confidence(per_view, view_scale) * share * per_view).sum()


def mask_weight(step: int, total: int, start: float, end: float, decay_fraction: float) -> float:
    """Geometric decay from `start` to `end` over the first `decay_fraction` of `total` steps:
    the silhouette first, the carving of details by the normals after."""
    span = max(1.0, decay_fraction * total)
    t = min(1.0, step / span)
    return float(start * (end / start) ** t)


def image_terms(
    rendered: RenderedViews, targets: ViewTargets, view_scale: float = 0.0, pixel_scale: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask loss, normal loss) of one render against the priors; the defaults are the plain
    losses, the presets' `view_confidence` and `normal_robust_scale` the robust ones."""
    return mask_loss(rendered, targets), normal_loss(rendered, targets, view_scale, pixel_scale)
