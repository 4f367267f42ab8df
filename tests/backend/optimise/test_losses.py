"""The image losses: the plain ones as published, and the per-view and per-pixel confidence
that keeps views which disagree from pulling the shape their way."""

import math

import torch

from latentdreamer.optimise.losses import mask_weight, normal_loss, view_confidence
from latentdreamer.optimise.targets import ViewTargets
from latentdreamer.render.views import RenderedViews


def _views(mask: torch.Tensor, normals: torch.Tensor) -> RenderedViews:
    return RenderedViews(mask=mask, normals=normals, depth=mask, rgb=None, rast=torch.zeros(*mask.shape[:3], 4))


def _square(views: int = 6, size: int = 16, side: int = 10) -> torch.Tensor:
    mask = torch.zeros(views, size, size, 1)
    mask[:, 3 : 3 + side, 3 : 3 + side] = 1.0
    return mask


def test_confidence_is_off_at_scale_zero_and_even_when_views_agree() -> None:
    residuals = torch.tensor([0.1, 0.3, 0.2, 0.5, 0.1, 0.2])
    assert torch.equal(view_confidence(residuals, 0.0), torch.ones(6))
    assert torch.allclose(view_confidence(torch.full((6,), 0.2), 2.0), torch.ones(6))


def test_a_view_far_from_the_median_counts_less_and_the_weights_keep_mean_one() -> None:
    residuals = torch.tensor([0.1, 0.1, 0.1, 0.1, 0.1, 1.0])
    weights = view_confidence(residuals, 2.0)
    assert abs(float(weights.mean()) - 1.0) < 1e-6
    assert float(weights[5]) < 0.1 * float(weights[0])
    # scale 1: the median view weighs 1 / (1 + 1), one at twice the median 1 / (1 + 4)
    weights = view_confidence(torch.tensor([0.1, 0.1, 0.2]), 1.0)
    assert abs(float(weights[2] / weights[0]) - 0.2 / 0.5) < 1e-6


def test_plain_normal_loss_is_the_mean_over_every_object_pixel() -> None:
    generator = torch.Generator().manual_seed(0)
    mask = _square()
    mask[2:, 3:5] = 0.0  # views of different sizes
    target = torch.rand(6, 16, 16, 3, generator=generator)
    seen = torch.rand(6, 16, 16, 3, generator=generator)
    error = (seen - target).abs().sum(-1, keepdim=True)
    expected = (mask * error).sum() / mask.sum()
    got = normal_loss(_views(mask, seen), ViewTargets(mask=mask, rgb=target, normals=target))
    assert torch.allclose(got, expected, atol=1e-6)


def test_a_view_that_disagrees_pulls_less_with_confidence() -> None:
    mask = _square()
    target = torch.full((6, 16, 16, 3), 0.5)
    seen = target.clone().requires_grad_(True)
    with torch.no_grad():
        seen[:, :, :, 0] += 0.05
        seen[5, :, :, 0] += 0.5  # the invented back view
    targets = ViewTargets(mask=mask, rgb=target, normals=target)
    plain = torch.autograd.grad(normal_loss(_views(mask, seen), targets), seen)[0]
    robust = torch.autograd.grad(normal_loss(_views(mask, seen), targets, view_scale=2.0), seen)[0]
    share = lambda g: float(g[5].abs().sum() / g.abs().sum())  # noqa: E731
    assert share(robust) < 0.2 * share(plain)


def test_the_pixel_kernel_is_l1_for_small_errors_and_flattens_for_large_ones() -> None:
    mask = _square()
    target = torch.full((6, 16, 16, 3), 0.5)
    targets = ViewTargets(mask=mask, rgb=target, normals=target)

    def loss(offset: float, scale: float) -> float:
        seen = target.clone()
        seen[..., 0] += offset
        return float(normal_loss(_views(mask, seen), targets, pixel_scale=scale))

    assert abs(loss(0.01, 0.5) - 0.01) < 2e-4  # within c: nearly the L1 error
    assert abs(loss(0.5, 0.0) - 0.5) < 1e-6
    assert abs(loss(0.5, 0.5) - 0.5 * math.log(2.0)) < 1e-6
    # a pixel ten times as far off pulls 1 / (1 + e / c) as hard
    seen = target.clone().requires_grad_(True)
    with torch.no_grad():
        seen[0, 3, 3, 0] += 0.05
        seen[0, 4, 4, 0] += 5.0
    grad = torch.autograd.grad(normal_loss(_views(mask, seen), targets, pixel_scale=0.5), seen)[0]
    assert abs(float(grad[0, 4, 4, 0] / grad[0, 3, 3, 0]) - (1 + 0.1) / (1 + 10)) < 1e-4


def test_mask_weight_decays_from_start_to_end_then_holds() -> None:
    assert mask_weight(0, 100, 10.0, 1.0, 0.5) == 10.0
    assert abs(mask_weight(25, 100, 10.0, 1.0, 0.5) - 10**0.5) < 1e-9
    assert mask_weight(50, 100, 10.0, 1.0, 0.5) == mask_weight(99, 100, 10.0, 1.0, 0.5) == 1.0
