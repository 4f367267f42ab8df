"""Coarse stage: fit the shape field (SAE latent, or SDF grid) to the six views.

SDF = field -> FlexiCubes (training split, default weights) -> render masks and normals in
the prior cameras -> mask loss (weight decaying from high to low: silhouette first, then let
the normals carve) + normal loss + FlexiCubes regularisers + the field's own prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentdreamer.geometry.flexicubes import FlexiCubesMesh, deviation_loss, flexicubes, sdf_sign_loss
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.optimise.losses import image_terms, mask_weight
from latentdreamer.optimise.presets import Preset
from latentdreamer.optimise.progress import JobProgress
from latentdreamer.optimise.shape_field import GridField
from latentdreamer.optimise.stage_loop import StageReport, run_stage
from latentdreamer.optimise.targets import ViewTargets
from latentdreamer.optimise.view_corrections import ViewCorrections
from latentdreamer.render.cameras import Cameras
from latentdreamer.render.views import render_views

STAGE = "coarse"


@dataclass
class GeometryStep:
    """What one geometry step built, kept for best-mesh bookkeeping and previews."""

    mesh: FlexiCubesMesh | None = None

    def as_mesh(self) -> Mesh | None:
        return None if self.mesh is None else self.mesh.to_mesh()


def corrected(cameras: Cameras, corrections: ViewCorrections | None) -> Cameras:
    """The cameras the views were taken from, as far as the corrections know."""
    return cameras if corrections is None else corrections.cameras(cameras)


def geometry_objective(
    extracted: FlexiCubesMesh,
    targets: ViewTargets,
    cameras: Cameras,
    preset: Preset,
    w_mask: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss shared by the coarse and refine stages (without stage-specific terms)."""
    rendered = render_views(extracted.vertices, extracted.faces, cameras, targets.resolution)
    l_mask, l_normal = image_terms(rendered, targets, preset.view_confidence, preset.normal_robust_scale)
    l_dev, l_sign = deviation_loss(extracted), sdf_sign_loss(extracted)
    loss = w_mask * l_mask + preset.normal_weight * l_normal + preset.deviation_weight * l_dev + preset.sign_weight * l_sign
    terms = {k: float(v.detach()) for k, v in {"mask": l_mask, "normal": l_normal, "deviation": l_dev, "sign": l_sign}.items()}
    return loss, terms


def optimise_coarse(
    field,
    targets: ViewTargets,
    cameras: Cameras,
    preset: Preset,
    progress: JobProgress,
    fallback_sdf: torch.Tensor,
    stage: str = STAGE,
    corrections: ViewCorrections | None = None,
) -> tuple[torch.Tensor, StageReport]:
    """Returns the fitted SDF grid (detached) and the stage report.

    `fallback_sdf` (the visual hull) pulls the field back when it has no surface at all, which
    happens with untrained or badly initialised decoders: no surface, no image gradient.
    `corrections`, when given, move the cameras with the shape (optimise/view_corrections.py).
    """
    budget = preset.coarse
    state = GeometryStep()
    best = [float("inf")]

    def step_fn(step: int) -> tuple[torch.Tensor, dict[str, float]]:
        sdf = field.sdf()
        extracted = flexicubes(sdf, training=True)
        if extracted.faces.shape[0] == 0:
            state.mesh = None
            loss = (sdf - fallback_sdf).abs().mean() + field.regulariser(sdf)
            return loss, {"empty": 1.0}
        state.mesh = extracted
        w = mask_weight(step, budget.max_steps, preset.mask_weight_start, preset.mask_weight_end, preset.mask_decay_fraction)
        moving = corrections if corrections is not None and step >= corrections.start else None
        loss, terms = geometry_objective(extracted, targets, corrected(cameras, moving), preset, w)
        reg = field.regulariser(sdf)
        terms["field"] = float(reg.detach())
        if moving is not None:
            views = moving.regulariser()
            terms["views"] = float(views.detach())
            reg = reg + views
        return loss + reg, terms

    def on_step(step: int, loss: float) -> None:
        if state.mesh is not None and loss < best[0]:
            best[0] = loss
            progress.keep(state.as_mesh())
        if state.mesh is not None:
            progress.maybe_preview(stage, step, state.as_mesh)

    lr = preset.grid_lr if isinstance(field, GridField) else budget.lr
    groups = None if corrections is None else [corrections.param_group()]
    report = run_stage(stage, field.parameters(), budget, step_fn, progress, on_step, lr, groups)
    with torch.no_grad():
        sdf = field.sdf(exact=True).detach()
    return sdf, report
