"""What each quality preset spends: resolutions, iteration budgets, convergence tests, rates.

Render resolutions are small on purpose. Silhouette gradients come only from the antialias
step, and they fade once FlexiCubes triangles shrink to about a pixel (measured by the render
engineer: the analytic/finite-difference ratio of d(area)/d(scale) drops from ~1.2 at 320
faces to ~0.2 at 5120 faces on a 128^2 sphere). A grid cell of 1.1/(n-1) m seen from the prior
cameras (1 m across the image) spans res*1.1/(n-1) pixels; training-mode FlexiCubes splits
each quad into four triangles, so we keep a cell at >= 3 pixels: res >= 3*(n-1)/1.1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from latentdreamer.api import PRESETS
from latentdreamer.optimise.shape_field import REFRESH_STEPS


@dataclass(frozen=True)
class StageBudget:
    """Adam on one stage: stop at `max_steps` or when the loss stops improving.

    Converged when the mean loss over the last `window` steps is within `rel_tol` (relative)
    of the mean over the `window` steps before (and at least `min_steps` were taken). The rate
    falls geometrically from `lr` to `lr * lr_decay` over `max_steps`: a high rate early crosses
    the shallow basins a fixed small one settles in, the falling one lets the loss settle so
    the convergence test can stop the stage.
    """

    max_steps: int
    lr: float
    min_steps: int = 0
    window: int = 10
    rel_tol: float = 2e-3
    lr_decay: float = 1.0

    def __post_init__(self) -> None:
        if self.max_steps < 0 or self.min_steps < 0 or self.min_steps > self.max_steps:
            raise ValueError(f"bad step counts: max {self.max_steps}, min {self.min_steps}")
        if self.lr <= 0 or self.window < 1 or self.rel_tol < 0 or not 0 < self.lr_decay <= 1:
            raise ValueError("lr must be > 0, window >= 1, rel_tol >= 0, lr_decay in (0, 1]")

    def rate_factor(self, step: int) -> float:
        """The share of the starting rate used at `step` (0-based)."""
        return self.lr_decay ** (step / max(1, self.max_steps))

    def capped(self, max_steps: int) -> StageBudget:
        """The same stage stopped after `max_steps` (the minimum lowered to fit)."""
        return replace(self, max_steps=max_steps, min_steps=min(self.min_steps, max_steps))


@dataclass(frozen=True)
class Preset:
    name: str
    render_resolution: int
    """Pixels per side of each of the six views during the geometry stages."""
    sdf_resolution: int
    """Samples per axis of the SDF grid decoded from the SAE (FlexiCubes has n-1 cubes)."""
    texture_resolution: int
    """Pixels per side of the six views in the texture stage (colour detail wants more)."""
    texture_grid: int
    """G: the colour grid is 3 x G^3."""
    coarse: StageBudget
    refine: StageBudget
    texture: StageBudget
    mask_weight_start: float = 10.0
    mask_weight_end: float = 1.0
    mask_decay_fraction: float = 0.5
    """The mask weight falls geometrically from start to end over this share of coarse steps."""
    normal_weight: float = 1.0
    deviation_weight: float = 0.5
    sign_weight: float = 0.01
    weight_l2: float = 1e-3
    smooth_weight: float = 0.01
    """Laplacian smoothness of a directly optimised SDF grid (no-SAE fallback only)."""
    grid_lr: float = 0.002
    """Adam step for directly optimised SDF values, in metres (a tenth of a 32^3 cell); the
    coarse budget's `lr` is for the SAE latent."""
    band_refresh_steps: int = REFRESH_STEPS
    """The SAE latent field decodes the whole grid at least every this many coarse steps and
    only a band around the surface in between (optimise/shape_field.py); 0 decodes the whole
    grid every step (the old path, the baseline of benchmarks/bench_coarse.py)."""
    view_correction_weight: float = 1e-2
    """Weight of the prior that holds the per-view camera corrections at zero
    (optimise/view_corrections.py) against the image losses."""
    view_correction_start: float = 0.3
    """Share of the coarse budget run with the cameras exact before the corrections move."""
    view_confidence: float = 2.0
    """Per-view confidence of the normal loss (optimise/losses.py): a view whose mean error
    is this many times the median view's counts half; 0 weighs the six views alike."""
    normal_robust_scale: float = 0.3
    """c of the normal loss's per-pixel kernel c log(1 + e / c), e the L1 of encoded normals
    (0.3 is about 25 degrees off); 0 keeps plain L1. With view_confidence 2, tuned at
    `standard` on the ten development meshes, two perturbation seeds at degradation level
    2 (docs/evaluation.md, "Imperfect views"): c = 0.1 / 0.3 / 0.5 gave mean volume IoU
    0.786 / 0.809 / 0.809 against 0.787 plain, and 0.853 / 0.849 at level 0 (c = 0.3 / 0.5)
    against 0.856 plain."""
    view_power: float = 2.0
    """k in the view-aware texture weight max(0, cos theta)^k."""
    bake_resolution: int = 1024
    """Side in texels of the UV texture baked from the views (texture="uv")."""

    def __post_init__(self) -> None:
        if self.name not in PRESETS:
            raise ValueError(f"unknown preset {self.name!r}")
        if self.sdf_resolution < 8 or self.render_resolution < 16 or self.texture_resolution < 16:
            raise ValueError("resolutions too small to hold a shape")
        if self.texture_grid < 2:
            raise ValueError("texture grid needs at least 2 samples per axis")
        if self.band_refresh_steps < 0:
            raise ValueError("band_refresh_steps must be >= 0")
        if not self.mask_weight_start >= self.mask_weight_end > 0:
            raise ValueError("mask weight must decay from start to a positive end")
        if self.view_confidence < 0 or self.normal_robust_scale < 0:
            raise ValueError("view_confidence and normal_robust_scale must be >= 0 (0 turns them off)")
        if self.view_correction_weight < 0 or not 0 <= self.view_correction_start <= 1:
            raise ValueError("view_correction_weight must be >= 0 and view_correction_start in [0, 1]")

    def with_max_steps(self, **stages: int) -> Preset:
        """This preset with some stages capped, e.g. `with_max_steps(coarse=3, texture=2)`:
        the short runs tests and benchmarks need, without retyping the budgets."""
        return replace(self, **{stage: getattr(self, stage).capped(steps) for stage, steps in stages.items()})

    @property
    def pixels_per_cell(self) -> float:
        """How many pixels a grid cell spans in the prior views (see module docstring)."""
        return self.render_resolution * 1.1 / (self.sdf_resolution - 1)


# How `standard` was chosen (benchmarks/compare_presets.py on the eval meshes the old budget
# did worst on, oracle views, 2 free CPU cores): 70 coarse steps never converged; allowing 300
# lets convergence stop at 175-195 steps and lifted volume IoU on armchair / duck / fish from
# 0.77 / 0.79 / 0.86 to 0.83 / 0.82 / 0.95 for 2.2x the time (16 -> 35 s per object); 150 steps
# at 160 px gave 0.856 mean against 0.865. Decoding at the SAE's native 64^3 (render 192)
# instead of 40^3 bought nothing (mean IoU 0.68 vs 0.70 on five objects, 1.6x the time).
# `high` spends its budget on convergence (tighter tolerance, longer windows, 120 refine
# steps) and finer renders and texture, not on a finer SAE grid: on armchair / duck / fish,
# 40^3 at 160 px scored IoU 0.87 / 0.85 / 0.96 in 70 s against 0.83 / 0.79 / 0.89 in 111 s at
# 64^3 and 192 px, and against standard's 0.83 / 0.82 / 0.95 in 35 s.
# The coarse stage's band decode (`band_refresh_steps`, optimise/shape_field.py) changes no
# result: with one thread it gives the full decode's losses, step counts and IoU on the
# development meshes (benchmarks/bench_coarse.py --threads 1, all ten
# meshes, 2026-12-03) for 1.53x less CPU time per object at `standard` (median, 1.42-1.91x);
# on 2026-12-04, after the faster decode and on one thread, the same steps and IoU on all ten
# (bench_coarse.py; figures in the README). With a full decode at least every 12 steps
# (REFRESH_STEPS) a run does ~9 per 100 steps (the surface never reached the band's rim
# first) and no sign ever changed outside the band.
# `standard`'s coarse rate (2026-12-07, benchmarks/compare_presets.py, one thread, docs/
# evaluation.md "Coarse rate"): 0.06 against 0.03 gave mean volume IoU 0.866 / 0.853 on the
# ten development meshes from exact views, 0.813 / 0.815 at degradation level 2 (two seeds)
# and 0.356 / 0.353 on the twelve thin meshes (Chamfer 0.0179 / 0.0185), in 5-12 % fewer
# coarse steps; 0.045, 0.08 and 0.1 were no better on average, and a rate falling to 0.3x
# (StageBudget.lr_decay) stopped sooner on exact views, later at level 2, where it lost an
# armchair's frame. Shapes are still improving when the convergence test stops the stage
# (volume IoU against the truth rises to the last step), which is why fewer steps cost
# fidelity and a faster rate does not.
PRESET_TABLE: dict[str, Preset] = {
    "tiny": Preset(
        "tiny",
        render_resolution=48,
        sdf_resolution=16,
        texture_resolution=64,
        texture_grid=16,
        coarse=StageBudget(10, 0.05, min_steps=4, window=3, rel_tol=1e-3),
        refine=StageBudget(4, 0.05, window=2),
        texture=StageBudget(15, 0.1, min_steps=5, window=3, rel_tol=1e-3),
        bake_resolution=256,
    ),
    "draft": Preset(
        "draft",
        render_resolution=96,
        sdf_resolution=32,
        texture_resolution=128,
        texture_grid=32,
        coarse=StageBudget(40, 0.03, min_steps=10, window=6),
        refine=StageBudget(15, 0.03, window=5),
        texture=StageBudget(40, 0.08, min_steps=10, window=5),
    ),
    "standard": Preset(
        "standard",
        render_resolution=128,
        sdf_resolution=40,
        texture_resolution=160,
        texture_grid=48,
        coarse=StageBudget(300, 0.06, min_steps=20, window=10),
        refine=StageBudget(25, 0.02, window=8),
        texture=StageBudget(60, 0.06, min_steps=15, window=8),
    ),
    "high": Preset(
        "high",
        render_resolution=160,
        sdf_resolution=40,
        texture_resolution=256,
        texture_grid=64,
        coarse=StageBudget(300, 0.02, min_steps=50, window=20, rel_tol=1e-3),
        refine=StageBudget(120, 0.01, window=15, rel_tol=1e-3),
        texture=StageBudget(150, 0.05, min_steps=30, window=15, rel_tol=1e-3),
        bake_resolution=2048,
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESET_TABLE[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
