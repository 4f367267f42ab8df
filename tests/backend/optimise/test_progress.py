from __future__ import annotations

import pytest

from latentdreamer.api import Callbacks, Cancelled
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.optimise.progress import JobProgress


def test_fraction_follows_shares_and_never_goes_back():
    seen = []
    p = JobProgress(Callbacks(on_progress=seen.append), {"a": 1.0, "b": 3.0})
    p.report("a", 1, 2)
    assert seen[-1].fraction == pytest.approx(0.125)
    p.report("b", 1, 4)
    assert seen[-1].fraction == pytest.approx(0.25 + 0.75 / 4)
    p.report("a", 2, 2)  # a late report from an earlier stage must not move the bar back
    assert seen[-1].fraction == pytest.approx(0.25 + 0.75 / 4)
    p.finish("b")
    assert seen[-1].fraction == pytest.approx(1.0) and seen[-1].eta_s == pytest.approx(0.0, abs=1e-6)


def test_cancel_carries_the_kept_mesh():
    p = JobProgress(Callbacks(should_cancel=lambda: True), {"a": 1.0})
    mesh = Mesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]])
    p.keep(mesh)
    with pytest.raises(Cancelled) as info:
        p.check_cancel("a")
    assert info.value.best is mesh and info.value.stage == "a"


def test_preview_every_n_steps():
    shown = []
    p = JobProgress(Callbacks(on_preview=lambda m, s: shown.append(s)), {"a": 1.0}, preview_every=3)
    for step in range(1, 10):
        p.maybe_preview("a", step, lambda: None)
    assert shown == ["a"] * 3
