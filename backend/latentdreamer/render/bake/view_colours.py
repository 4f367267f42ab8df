"""Step 2 of the bake: each texel's colour as the view-aware blend of the six views.

Every texel's point is projected into each camera; a view counts only where the point is
the visible surface there (its depth matches the view's depth buffer), inside the view's
mask (eroded by a pixel, because silhouette pixels are mixed with the background), and then
with the texture stage's weight w = max(0, cos theta)^k, theta between the normal and the
direction to the camera. So a view that sees the surface at a grazing angle, where the prior
views disagree most and one pixel covers a long stretch of surface, barely contributes; the
colour is the weighted mean over the views that see the point squarely.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentdreamer.render.cameras import Cameras

DEPTH_TOLERANCE = 0.01
"""How far (object units; the object fits a radius-0.5 sphere) a texel's depth may lie
behind the view's depth buffer and still count as seen, on a surface facing the camera; far
below the thickness of anything the SDF grid can hold. A slanted surface's depth changes by
tan(theta) per unit across a pixel, so the tolerance grows by that much of one pixel's
footprint (`depth_tolerance`), else the nearest buffer sample would hide half of it."""

MASK_ERODE = 1
"""Pixels taken off the silhouette: their colour is part background after antialiasing."""


def _sample(images: torch.Tensor, ndc: torch.Tensor, mode: str) -> torch.Tensor:
    """(B, H, W, C) buffers (row 0 at the bottom) at (B, N, 2) NDC points -> (B, N, C).

    grid_sample's y = -1 is memory row 0, which is the buffer's bottom row, so NDC goes in
    unchanged; align_corners=False matches the rasteriser's pixel centres.
    """
    out = F.grid_sample(
        images.permute(0, 3, 1, 2), ndc[:, :, None, :].to(images.dtype), mode=mode, padding_mode="zeros", align_corners=False
    )
    return out[..., 0].transpose(1, 2)


def project(points: torch.Tensor, cameras: Cameras) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3) object-frame points -> (B, N, 2) NDC positions and (B, N) depth in front of each camera."""
    homo = torch.cat([points, torch.ones_like(points[:, :1])], dim=-1)
    clip = torch.einsum("bij,nj->bni", cameras.mvp.to(points), homo)
    ndc = clip[..., :2] / clip[..., 3:].clamp(min=1e-8)
    depth = -torch.einsum("bj,nj->bn", cameras.view[:, 2].to(points), homo)
    return ndc, depth


def facing(points: torch.Tensor, normals: torch.Tensor, cameras: Cameras) -> torch.Tensor:
    """(N, 3) points and unit normals -> (B, N) max(0, cos theta) per camera."""
    to_camera = F.normalize(cameras.positions.to(points)[:, None, :] - points[None], dim=-1)
    return (to_camera * normals[None]).sum(-1).clamp(min=0.0)


def view_weights(points: torch.Tensor, normals: torch.Tensor, cameras: Cameras, power: float) -> torch.Tensor:
    """(N, 3) points and unit normals -> (B, N) max(0, cos theta)^power per camera."""
    return facing(points, normals, cameras).pow(power)


def depth_tolerance(cos: torch.Tensor, depth: torch.Tensor, cameras: Cameras, pixels: int) -> torch.Tensor:
    """(B, N) depth slack: DEPTH_TOLERANCE plus tan(theta) times one pixel's footprint at that depth."""
    focal = cameras.proj[:, 1, 1].to(depth)[:, None]  # 1 / tan(fov / 2)
    footprint = 2.0 * depth / (focal * pixels)
    tan = (1.0 - cos.square()).clamp(min=0.0).sqrt() / cos.clamp(min=0.1)
    return DEPTH_TOLERANCE + footprint * tan


def erode(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """(B, H, W, 1) mask with `pixels` taken off its boundary (a min filter)."""
    if pixels <= 0:
        return mask
    m = mask.permute(0, 3, 1, 2)
    m = -F.max_pool2d(-m, kernel_size=2 * pixels + 1, stride=1, padding=pixels)
    return m.permute(0, 2, 3, 1)


def blend_views(
    points: torch.Tensor,
    normals: torch.Tensor,
    rgb: torch.Tensor,
    mask: torch.Tensor,
    depth: torch.Tensor,
    cameras: Cameras,
    power: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted colour sum (N, 3) and weight sum (N,) of the views that see each point.

    rgb (B, H, W, 3), mask (B, H, W, 1) and the mesh's own depth buffers (B, H', W', 1, 0 where
    empty) are all row 0 at the bottom; the depth may have another resolution than the views.
    """
    ndc, point_depth = project(points, cameras)
    seen_depth = _sample(depth, ndc, "nearest")[..., 0]
    cos = facing(points, normals, cameras)
    slack = depth_tolerance(cos, point_depth, cameras, depth.shape[1])
    visible = (seen_depth > 0) & (point_depth - seen_depth < slack)
    inside = _sample(erode(mask, MASK_ERODE), ndc, "bilinear")[..., 0].clamp(0, 1)
    w = cos.pow(power) * inside * visible
    colours = _sample(rgb, ndc, "bilinear")
    return (w[..., None] * colours).sum(0), w.sum(0)
