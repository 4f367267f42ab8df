"""Refine stage: fit FlexiCubes' per-cube weights and the grid deformation, and the field.

The paper freezes the SDF here (Sec. 3.4) so the topology the latent found stays closed while
alpha/beta/gamma and half-cell vertex moves align edges and corners with the views, arguing
that a field still training would tear holes to fit views that disagree. Measured on exact
and on degraded views (docs/evaluation.md, "Imperfect views"), the latent field still
training did better and stayed closed: the SAE keeps it a closed surface. So the pipeline
passes `freeze_sdf=False`; `freeze_sdf=True` (this function's own default, the method as
published) is the ablation.
"""

from __future__ import annotations

import torch

from latentdreamer.geometry.flexicubes import FlexiCubesMesh, flexicubes, weight_l2
from latentdreamer.optimise.coarse import GeometryStep, corrected, geometry_objective
from latentdreamer.optimise.presets import Preset
from latentdreamer.optimise.progress import JobProgress
from latentdreamer.optimise.stage_loop import StageReport, run_stage
from latentdreamer.optimise.targets import ViewTargets
from latentdreamer.optimise.view_corrections import ViewCorrections
from latentdreamer.render.cameras import Cameras

STAGE = "refine"


class FlexiWeights:
    """Dense raw FlexiCubes parameters for an n^3 grid, all starting neutral (raw 0)."""

    def __init__(self, n: int, device: torch.device, dtype: torch.dtype = torch.float32) -> None:
        cubes = (n - 1) ** 3
        zeros = lambda *shape: torch.zeros(*shape, device=device, dtype=dtype, requires_grad=True)  # noqa: E731
        self.beta = zeros(cubes, 12)
        self.alpha = zeros(cubes, 8)
        self.gamma = zeros(cubes)
        self.deform = zeros(n, n, n, 3)

    def parameters(self) -> list[torch.Tensor]:
        return [self.beta, self.alpha, self.gamma, self.deform]

    def extract(self, sdf: torch.Tensor, training: bool) -> FlexiCubesMesh:
        return flexicubes(
            sdf, beta_raw=self.beta, alpha_raw=self.alpha, gamma_raw=self.gamma, deform_raw=self.deform, training=training
        )


def optimise_refine(
    sdf: torch.Tensor,
    targets: ViewTargets,
    cameras: Cameras,
    preset: Preset,
    progress: JobProgress,
    field=None,
    freeze_sdf: bool = True,
    stage: str = STAGE,
    corrections: ViewCorrections | None = None,
) -> tuple[FlexiCubesMesh, StageReport]:
    """Returns the final (inference-split) extraction and the stage report; `corrections`
    (the coarse stage's camera corrections) keep moving with the refined surface."""
    budget = preset.refine
    weights = FlexiWeights(sdf.shape[0], sdf.device, sdf.dtype)
    params = weights.parameters()
    if not freeze_sdf:
        if field is None:
            raise ValueError("freeze_sdf=False needs the shape field to keep optimising")
        params = params + field.parameters()
    state = GeometryStep()
    best = [float("inf")]
    current = [sdf.detach()]

    def step_fn(step: int) -> tuple[torch.Tensor, dict[str, float]]:
        s = current[0] if freeze_sdf else field.sdf()
        extracted = weights.extract(s, training=True)
        state.mesh = extracted
        # The mask weight has finished decaying in the coarse stage: keep its end value.
        loss, terms = geometry_objective(extracted, targets, corrected(cameras, corrections), preset, preset.mask_weight_end)
        reg = preset.weight_l2 * weight_l2(weights.alpha, weights.beta)
        if not freeze_sdf:
            reg = reg + field.regulariser(s)
        terms["weights"] = float(reg.detach())
        if corrections is not None:
            views = corrections.regulariser()
            terms["views"] = float(views.detach())
            reg = reg + views
        return loss + reg, terms

    def on_step(step: int, loss: float) -> None:
        if loss < best[0]:
            best[0] = loss
            progress.keep(state.as_mesh())
        progress.maybe_preview(stage, step, state.as_mesh)

    if sdf.numel() and (sdf < 0).any() and (sdf > 0).any():
        groups = None if corrections is None else [corrections.param_group()]
        report = run_stage(stage, params, budget, step_fn, progress, on_step, groups=groups)
    else:
        report = StageReport()
        progress.finish(stage)
    with torch.no_grad():
        final_sdf = current[0] if freeze_sdf else field.sdf(exact=True).detach()
        extracted = weights.extract(final_sdf, training=False)
    return extracted, report
