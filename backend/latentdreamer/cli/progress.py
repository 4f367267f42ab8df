"""Progress on a terminal: one tqdm bar for the whole job, and the end-of-job summary."""

from __future__ import annotations

import sys

from latentdreamer.api import GenerationResult, Progress

BAR_STEPS = 1000


class ProgressBar:
    """Callbacks.on_progress target; the bar counts thousandths of the whole job."""

    def __init__(self, enabled: bool = True) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=BAR_STEPS, file=sys.stderr, disable=not enabled, bar_format="{l_bar}{bar}| {elapsed}<{remaining}{postfix}"
        )
        self._stage = ""

    def __call__(self, p: Progress) -> None:
        target = int(round(p.fraction * BAR_STEPS))
        if p.stage != self._stage:
            self._stage = p.stage
            self.bar.set_description(p.stage)
        self.bar.set_postfix_str(f"{p.step}/{p.total} {p.message}".strip(), refresh=False)
        self.bar.update(max(0, target - self.bar.n))

    def close(self) -> None:
        self.bar.close()


def summary(result: GenerationResult) -> str:
    s, t = result.stats, result.timings
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in t.items() if k != "total")
    iters = ", ".join(f"{k} {s[f'iterations_{k}']}" for k in ("coarse", "refine", "texture") if f"iterations_{k}" in s)
    return (
        f"{s.get('vertices')} vertices, {s.get('triangles')} triangles in {t.get('total', 0.0):.1f} s ({stages})\n"
        f"iterations: {iters}; mode {s.get('mode')}, init {s.get('init')}, shape prior {s.get('shape_prior')}"
    )
