"""How large the object in six views really is, measured from its silhouettes.

The pipeline assumes the object fills the radius-0.5 sphere that the six cameras frame
(docs/design.md §4); a multi-view prior shows it at whatever size the input framing led it
to. A point at distance r from the origin is seen by a camera at distance d looking at the
origin at most asin(r / d) off its optical axis, so every silhouette pixel bounds the
object's radius from below: r >= d sin(theta). The smallest sphere about the origin whose
tangent cones hold every silhouette of the six views is the radius these views can prove;
it is exact for a sphere and for any object whose farthest point some view sees edge-on,
which six views around the object nearly always do (measured in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from latentdreamer.render.cameras import Cameras

ASSUMED_RADIUS = 0.5
EXACT_FRAMING_BOUND = 0.99
"""What the bound typically gives for an object fitted exactly into the sphere: six views
rarely see its farthest point quite edge-on. Measured on oracle views (256 px) of public
meshes each fitted into the sphere, 2026-12-04: median 0.987 on the ten development meshes,
0.993 on the twelve thin ones (`../shared/eval/thin`)."""
LOOSEST_EXACT_BOUND = 0.94
"""Below every bound measured for an exactly framed object (0.946-1.000 over those 22)."""
SPECK_SHARE = 0.005
"""Mask components smaller than this share of a view's mask are ignored (stray pixels of a
mask taken from generated normals would otherwise set the radius)."""


@dataclass(frozen=True)
class ViewScale:
    """`scale`: the object's radius over the assumed 0.5 (1: as the cameras assume)."""

    scale: float
    per_view: tuple[float, ...]
    """Each view's own bound on the scale; `scale` is their largest."""

    @property
    def framing(self) -> float:
        """The zoom that frames the object as the cameras assume, where the silhouettes say
        it is not: a bound above 1 proves the object larger (zoom by the bound, the smallest
        size the views allow); one below every bound an exactly framed object gave says it
        is smaller (zoom by the bound over its typical value). In between the views are
        trusted (1): there the bound's own spread is larger than the framing error, and
        enlarging an object that already fills the sphere would press it into the grid's
        sealed border."""
        if self.scale > 1.0:
            return self.scale
        if 0.0 < self.scale < LOOSEST_EXACT_BOUND:
            return self.scale / EXACT_FRAMING_BOUND
        return 1.0


def _largest_parts(mask: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(mask)
    if count <= 1:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= SPECK_SHARE * sizes.sum()) + 1
    return np.isin(labels, keep)


def estimate_view_scale(masks: np.ndarray, cameras: Cameras, threshold: float = 0.5) -> ViewScale:
    """The scale that explains six masks (V, H, W) in `cameras` (row 0 at the top, each
    camera looking at the origin): the smallest object radius, over 0.5, whose tangent
    cones contain every silhouette. An empty view bounds nothing (0)."""
    masks = np.asarray(masks)
    _, h, w = masks.shape
    proj = cameras.proj.detach().cpu().numpy().astype(np.float64)
    distances = np.linalg.norm(cameras.positions.detach().cpu().numpy().astype(np.float64), axis=1)
    x_ndc = (2 * (np.arange(w) + 0.5) / w) - 1
    y_ndc = 1 - (2 * (np.arange(h) + 0.5) / h)
    per_view = []
    for k, mask in enumerate(masks):
        inside = _largest_parts(mask > threshold)
        if not inside.any():
            per_view.append(0.0)
            continue
        rows, cols = np.nonzero(inside)
        tan_x, tan_y = x_ndc[cols] / proj[k, 0, 0], y_ndc[rows] / proj[k, 1, 1]
        tan_theta = np.sqrt(tan_x**2 + tan_y**2).max()
        per_view.append(float(distances[k] * np.sin(np.arctan(tan_theta)) / ASSUMED_RADIUS))
    return ViewScale(max(per_view), tuple(per_view))
