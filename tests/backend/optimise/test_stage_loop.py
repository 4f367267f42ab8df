from __future__ import annotations

import pytest
import torch

from latentdreamer.api import Callbacks, Cancelled
from latentdreamer.optimise.losses import mask_weight
from latentdreamer.optimise.presets import StageBudget
from latentdreamer.optimise.progress import JobProgress
from latentdreamer.optimise.stage_loop import has_converged, run_stage


def test_convergence_on_a_flat_window():
    budget = StageBudget(max_steps=100, lr=0.1, min_steps=4, window=2, rel_tol=0.01)
    assert not has_converged([5.0, 4.0, 3.0], budget)  # fewer than 2 windows
    assert not has_converged([5.0, 4.0, 3.0, 2.0], budget)
    assert has_converged([5.0, 4.0, 1.0, 1.0, 1.0, 1.001], budget)


def test_run_stage_minimises_and_stops_early():
    x = torch.tensor([3.0], requires_grad=True)
    seen = []
    progress = JobProgress(Callbacks(on_progress=seen.append), {"fit": 1.0})
    budget = StageBudget(max_steps=500, lr=0.1, window=10, rel_tol=1e-4)
    report = run_stage("fit", [x], budget, lambda step: ((x - 1).square().sum(), {}), progress)
    assert abs(float(x.detach()) - 1.0) < 0.05
    assert report.converged and report.steps < 500
    assert seen[-1].fraction == pytest.approx(1.0)


def test_run_stage_cancels_before_a_step():
    x = torch.tensor([3.0], requires_grad=True)
    progress = JobProgress(Callbacks(should_cancel=lambda: float(x.detach()) < 2.5), {"fit": 1.0})
    with pytest.raises(Cancelled):
        run_stage("fit", [x], StageBudget(100, 0.1), lambda step: ((x - 1).square().sum(), {}), progress)
    assert float(x.detach()) < 2.5 and float(x.detach()) > 2.2  # stopped within a step of the condition


def test_mask_weight_decays_geometrically():
    assert mask_weight(0, 100, 10.0, 1.0, 0.5) == pytest.approx(10.0)
    assert mask_weight(25, 100, 10.0, 1.0, 0.5) == pytest.approx(10.0**0.5)
    assert mask_weight(50, 100, 10.0, 1.0, 0.5) == pytest.approx(1.0)
    assert mask_weight(90, 100, 10.0, 1.0, 0.5) == pytest.approx(1.0)


def test_run_stage_decays_every_group_rate_geometrically(monkeypatch):
    x, y = torch.tensor([3.0], requires_grad=True), torch.tensor([1.0], requires_grad=True)
    groups: list[dict] = []
    original = torch.optim.Adam.__init__

    def keep_groups(self, params, *args, **kwargs):
        original(self, params, *args, **kwargs)
        groups.extend(self.param_groups)

    monkeypatch.setattr(torch.optim.Adam, "__init__", keep_groups)
    rates: list[tuple[float, ...]] = []
    budget = StageBudget(max_steps=4, lr=0.1, lr_decay=0.01)
    run_stage(
        "fit",
        [x],
        budget,
        lambda step: ((x - 1).square().sum() + y.square().sum(), {}),
        JobProgress(Callbacks(), {"fit": 1.0}),
        on_step=lambda step, loss: rates.append(tuple(g["lr"] for g in groups)),
        groups=[{"params": [y], "lr": 0.5}],
    )
    assert len(rates) == 4
    for k, (rx, ry) in enumerate(rates):
        assert rx == pytest.approx(0.1 * 0.01 ** (k / 4)) and ry == pytest.approx(0.5 * 0.01 ** (k / 4))
    assert budget.rate_factor(4) == pytest.approx(0.01)
