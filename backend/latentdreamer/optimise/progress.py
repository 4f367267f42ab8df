"""One progress bar for the whole job, and the cancellation check every stage shares.

Stages get a share of the job in proportion to their expected cost, so `fraction` moves at
a roughly steady pace and the ETA (elapsed / fraction - elapsed) means something. A stage
that converges early jumps to the end of its share: `fraction` never goes backwards.
The best mesh so far travels with the tracker so that a cancellation always hands one back.
"""

from __future__ import annotations

import time

from latentdreamer.api import Callbacks, Cancelled, Progress
from latentdreamer.geometry.mesh import Mesh


class JobProgress:
    def __init__(self, callbacks: Callbacks, shares: dict[str, float], preview_every: int = 10) -> None:
        total = sum(shares.values())
        if total <= 0:
            raise ValueError("stage shares must add up to a positive number")
        self.callbacks = callbacks
        self.preview_every = max(1, int(preview_every))
        self.start_time = time.perf_counter()
        self.best: Mesh | None = None
        self._starts: dict[str, float] = {}
        self._shares: dict[str, float] = {}
        acc = 0.0
        for name, share in shares.items():
            self._starts[name] = acc / total
            self._shares[name] = share / total
            acc += share
        self._fraction = 0.0

    @property
    def fraction(self) -> float:
        return self._fraction

    def report(self, stage: str, step: int, total: int, message: str = "") -> None:
        """`step` of `total` done in `stage` (its share of the job scaled by step / total)."""
        within = 1.0 if total <= 0 else min(1.0, step / total)
        fraction = self._starts[stage] + self._shares[stage] * within
        self._fraction = max(self._fraction, min(1.0, fraction))
        elapsed = time.perf_counter() - self.start_time
        eta = elapsed / self._fraction - elapsed if self._fraction > 1e-6 else None
        self.callbacks.on_progress(Progress(stage, step, total, self._fraction, eta, message))

    def finish(self, stage: str, message: str = "") -> None:
        self.report(stage, 1, 1, message)

    def keep(self, mesh: Mesh) -> None:
        """Remember `mesh` as the best result so far (what a cancellation returns)."""
        self.best = mesh

    def check_cancel(self, stage: str) -> None:
        if self.callbacks.should_cancel():
            raise Cancelled(self.best, stage)

    def maybe_preview(self, stage: str, step: int, mesh_fn) -> None:
        """Call `on_preview` every `preview_every` steps; `mesh_fn` builds the mesh lazily."""
        if step % self.preview_every == 0:
            self.callbacks.on_preview(mesh_fn(), stage)
