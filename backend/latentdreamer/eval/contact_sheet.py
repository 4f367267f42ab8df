"""Side-by-side pictures of what went in and what came out, for the demo and the evaluation.

Four Zero123++-layout grids left to right: the prior's colours, the result's colours, the
prior's normal maps, the result's normal maps, all in the six prior cameras; optionally a
fifth and sixth pair for novel views. A mismatch in any camera is visible at a glance.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from latentdreamer.api import ViewSet
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.pipeline.oracle_views import render_mesh_views
from latentdreamer.render.cameras import Cameras
from latentdreamer.render.grid_image import join_grid


def _fit(images: np.ndarray, size: int) -> np.ndarray:
    if images.shape[1] == size:
        return images
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True).permute(0, 2, 3, 1).numpy()


def comparison_grids(prior: ViewSet, result: ViewSet, size: int = 160) -> np.ndarray:
    """(3*size, 8*size, 3): prior colours | result colours | prior normals | result normals."""
    panels = [prior.rgb, result.rgb]
    if prior.normals is not None and result.normals is not None:
        panels += [prior.normals, result.normals]
    return np.concatenate([join_grid(list(_fit(p[..., :3], size))) for p in panels], axis=1)


def contact_sheet(prior: ViewSet, mesh: Mesh, cameras: Cameras | None = None, size: int = 160) -> np.ndarray:
    """The result rendered in the prior's cameras (or `cameras`) beside the prior views."""
    rendered = render_mesh_views(mesh, cameras, resolution=prior.rgb.shape[1])
    return comparison_grids(prior, rendered, size)
