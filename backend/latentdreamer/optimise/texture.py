"""Texture stage: a 3-D colour grid fitted to the six RGB views with a view-aware loss.

The geometry is fixed here, so the six views are rasterised once: every covered pixel gets its
surface point (interpolated position) and normal, and each step only samples the colour grid
trilinearly at those points (per-pixel positions, not vertex colours, so colour detail is not
limited by the mesh). Each pixel's error is weighted by w = max(0, cos theta)^k, theta between
the surface normal and the direction to the camera: a view that sees a surface at a grazing
angle cannot smear its colours over it. Vertex colours = the grid at the final vertices.
"""

from __future__ import annotations

import torch

from latentdreamer.geometry.grid import sample_grid
from latentdreamer.geometry.normals import vertex_normals
from latentdreamer.optimise.presets import Preset
from latentdreamer.optimise.progress import JobProgress
from latentdreamer.optimise.stage_loop import StageReport, run_stage
from latentdreamer.optimise.targets import ViewTargets
from latentdreamer.render.cameras import Cameras
from latentdreamer.render.rasterize import interpolate
from latentdreamer.render.views import render_views

STAGE = "texture"


def view_weights(points: torch.Tensor, normals: torch.Tensor, cameras: Cameras, power: float) -> torch.Tensor:
    """(B, N, 3) surface points and unit normals -> (B, N) max(0, cos theta)^power."""
    to_camera = torch.nn.functional.normalize(cameras.positions.to(points)[:, None, :] - points, dim=-1)
    cos = (to_camera * normals).sum(-1).clamp(min=0.0)
    return cos.pow(power)


def grid_colours(grid: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(N, 3) RGB in [0, 1] of the fitted colour grid at (N, 3) points: the vertex colours."""
    with torch.no_grad():
        return sample_grid(grid, points[None])[0].clamp(0, 1)


def fit_colour_grid(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    targets: ViewTargets,
    cameras: Cameras,
    preset: Preset,
    progress: JobProgress,
    view_aware: bool = True,
    stage: str = STAGE,
) -> tuple[torch.Tensor, StageReport]:
    """The fitted (1, 3, g, g, g) colour grid itself (detached) and the stage report; the UV
    bake samples it wherever the views do not see the surface."""
    with torch.no_grad():
        rendered = render_views(vertices, faces, cameras, targets.resolution)
        tri = faces.to(torch.int32)
        attrs = torch.cat([vertices, vertex_normals(vertices, faces)], dim=-1)
        surface = interpolate(attrs, rendered.rast, tri)  # (B, H, W, 6)
        covered = rendered.rast[..., 3] > 0
        weight = targets.mask[..., 0] * covered
        b = len(cameras)
        points = surface[..., :3].reshape(b, -1, 3)
        normals = torch.nn.functional.normalize(surface[..., 3:].reshape(b, -1, 3), dim=-1)
        w = weight.reshape(b, -1)
        if view_aware:
            w = w * view_weights(points, normals, cameras, preset.view_power)
        keep = w > 1e-4
        points, w, target = points[keep], w[keep], targets.rgb.reshape(b, -1, 3)[keep]
        mean_colour = target.mean(0) if len(target) else torch.full((3,), 0.5)
    g = preset.texture_grid
    grid = mean_colour.reshape(1, 3, 1, 1, 1).expand(1, 3, g, g, g).clone().to(vertices).requires_grad_(True)
    total_w = w.sum().clamp(min=1e-6)

    def step_fn(step: int) -> tuple[torch.Tensor, dict[str, float]]:
        colour = sample_grid(grid, points[None])[0]
        loss = (w * (colour - target).abs().sum(-1)).sum() / total_w
        return loss, {"rgb": float(loss.detach())}

    report = run_stage(stage, [grid] if len(points) else [], preset.texture, step_fn, progress)
    return grid.detach(), report
