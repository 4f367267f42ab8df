"""The visual hull of the six masks as an SDF grid: the starting shape when there is no SAE.

A grid sample is inside when every view's mask covers its projection. Six views carve
concavities badly, but the hull is the right size and place, which is what an initialisation
needs: the image losses only move surfaces a few cells per hundred steps.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from latentdreamer.errors import UserFacingError
from latentdreamer.geometry.grid import grid_points
from latentdreamer.geometry.sdf_from_occupancy import occupancy_to_sdf
from latentdreamer.render.cameras import Cameras, to_clip


class NoCommonVolume(UserFacingError, ValueError):
    """The views' masks do not intersect: the views are not of one object in the prior cameras."""


def visual_hull_occupancy(masks: torch.Tensor, cameras: Cameras, resolution: int, threshold: float = 0.5) -> np.ndarray:
    """masks (B, H, W, 1), row 0 at the bottom (renderer layout) -> (n, n, n) bool."""
    points = torch.from_numpy(grid_points(resolution).reshape(-1, 3)).to(masks)
    clip = to_clip(points, cameras.to(masks.device))
    ndc = clip[..., :2] / clip[..., 3:].clamp(min=1e-6)
    # grid_sample: x -> columns, y = -1 -> row 0, which is the bottom row here, as in NDC.
    sampled = F.grid_sample(
        masks.permute(0, 3, 1, 2), ndc[:, :, None, :], mode="bilinear", padding_mode="zeros", align_corners=False
    )
    inside = (sampled[:, 0, :, 0] > threshold).all(dim=0)
    return inside.reshape(resolution, resolution, resolution).cpu().numpy()


def visual_hull_sdf(masks: torch.Tensor, cameras: Cameras, resolution: int) -> torch.Tensor:
    """The hull as an SDF grid; NoCommonVolume (user-facing) when the masks do not intersect."""
    occ = visual_hull_occupancy(masks, cameras, resolution)
    if not occ.any():
        raise NoCommonVolume(
            "the six masks share no common volume: no point in space lies inside every view's silhouette",
            "check that the views are of one object, centred, in the camera order (azimuths 30, 90, 150, 210, "
            "270, 330 degrees; elevations +20 / -10 alternating), and that no mask is shifted or cropped",
        )
    return torch.from_numpy(occupancy_to_sdf(occ)).to(masks.device)
