"""The Adam loop every optimisation stage runs: steps, convergence, progress, cancellation.

A stage supplies `step_fn(step) -> (loss, terms)`; the loop owns the optimiser and its rate
schedule (every group's rate scaled by the budget's `rate_factor`), stops on
`max_steps` or convergence (relative change of the windowed mean loss), reports progress
after every step and checks for cancellation before every step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

from latentdreamer.optimise.presets import StageBudget
from latentdreamer.optimise.progress import JobProgress

StepFn = Callable[[int], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class StageReport:
    steps: int = 0
    converged: bool = False
    losses: list[float] = field(default_factory=list)
    terms: dict[str, float] = field(default_factory=dict)
    """The loss terms of the last step."""

    @property
    def final_loss(self) -> float:
        return self.losses[-1] if self.losses else float("nan")


def has_converged(losses: list[float], budget: StageBudget) -> bool:
    w = budget.window
    if len(losses) < max(budget.min_steps, 2 * w):
        return False
    recent = sum(losses[-w:]) / w
    before = sum(losses[-2 * w : -w]) / w
    return abs(before - recent) <= budget.rel_tol * max(abs(before), 1e-12)


def run_stage(
    stage: str,
    params: Iterable[torch.Tensor],
    budget: StageBudget,
    step_fn: StepFn,
    progress: JobProgress,
    on_step: Callable[[int, float], None] | None = None,
    lr: float | None = None,
    groups: list[dict] | None = None,
) -> StageReport:
    """`on_step(step, loss)` runs after each optimiser step (best-mesh bookkeeping, previews);
    `lr` overrides the budget's rate for `params`; `groups` are further parameter groups with
    their own rates (optimise/view_corrections.py)."""
    params = list(params)
    report = StageReport()
    if budget.max_steps == 0 or not params:
        progress.finish(stage)
        return report
    optimiser = torch.optim.Adam([{"params": params, "lr": lr or budget.lr}, *(groups or [])])
    start_rates = [group["lr"] for group in optimiser.param_groups]
    for step in range(budget.max_steps):
        progress.check_cancel(stage)
        if budget.lr_decay != 1.0:
            for group, rate in zip(optimiser.param_groups, start_rates, strict=True):
                group["lr"] = rate * budget.rate_factor(step)
        optimiser.zero_grad(set_to_none=True)
        loss, terms = step_fn(step)
        loss.backward()
        optimiser.step()
        value = float(loss.detach())
        report.losses.append(value)
        report.terms = terms
        report.steps = step + 1
        if on_step is not None:
            on_step(step + 1, value)
        progress.report(stage, step + 1, budget.max_steps, f"loss {value:.4f}")
        if has_converged(report.losses, budget):
            report.converged = True
            break
    progress.finish(stage)
    return report
