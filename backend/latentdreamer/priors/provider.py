"""Where the six views come from, behind one small interface so a prior can be swapped.

Zero123++ (+ its normal ControlNet) is the default; a user's own six views skip diffusion
entirely (docs/design.md §2, item 1). Another multi-view model only has to implement `views`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from latentdreamer.api import Callbacks, GenerateSettings, Progress, ViewSet
from latentdreamer.locations import Locations
from latentdreamer.priors.image_input import OBJECT_FILL, PreparedImage, prepare_image

log = logging.getLogger(__name__)

STAGE = "views"
PRESET_STEPS = {"tiny": 2, "draft": 15, "standard": 28, "high": 75}
"""Denoising steps per preset: 28 is Zero123++'s default, 75 its best-quality setting."""


class ViewsProvider(Protocol):
    name: str

    def views(self, image: str | Path | PreparedImage | None, settings: GenerateSettings, callbacks: Callbacks) -> ViewSet:
        """Six views in camera order (docs/design.md §4) for the pipeline."""


@dataclass
class PriorViews:
    """Everything one Zero123++ run made, for saving beside the result and for the UI."""

    views: ViewSet
    condition: PreparedImage
    colour_grid: np.ndarray
    normal_grid: np.ndarray | None
    notes: list[str] = field(default_factory=list)


class StepReporter:
    """Per-denoising-step progress over one or more diffusion passes, mapped into `span` of the job."""

    def __init__(
        self,
        callbacks: Callbacks,
        total: int,
        span: tuple[float, float],
        stage: str = STAGE,
        message: str = "multi-view diffusion",
    ) -> None:
        self.callbacks, self.total, self.span = callbacks, total, span
        self.stage, self.message = stage, message
        self.done, self.start = 0, time.perf_counter()

    def __call__(self, _step: int, _of: int) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        lo, hi = self.span
        self.callbacks.on_progress(
            Progress(self.stage, self.done, self.total, lo + (hi - lo) * self.done / self.total, eta, self.message)
        )


class Zero123PlusProvider:
    """Zero123++ v1.2 colour views, normal maps from its ControlNet, masks from the normals."""

    name = "zero123plus"

    def __init__(
        self,
        locations: Locations | None = None,
        steps: int | None = None,
        guidance: float = 4.0,
        normals: bool = True,
        segmentation: str = "auto",
        span: tuple[float, float] = (0.0, 1.0),
        framing: float = OBJECT_FILL,
    ) -> None:
        self.locations, self.steps, self.guidance = locations or Locations(), steps, guidance
        self.normals, self.segmentation, self.span = normals, segmentation, span
        self.framing = framing
        self._model = None

    def _paths(self) -> dict[str, Path]:
        """Checked before torch is touched, so a missing download fails at once."""
        from latentdreamer.priors.model_store import require

        return require(("zero123plus", "normal-controlnet") if self.normals else ("zero123plus",), self.locations)

    def _load(self, paths: dict[str, Path], device_choice: str):
        from latentdreamer.device import resolve_device
        from latentdreamer.priors.zero123plus import Zero123Plus

        device = resolve_device(device_choice)
        if self._model is None or self._model.device != device:
            if device.type == "cpu":
                log.warning("Zero123++ on the CPU: expect minutes per view set (a CUDA GPU takes seconds)")
            self._model = Zero123Plus.load(paths["zero123plus"], paths.get("normal-controlnet"), device=device)
        return self._model

    def views(self, image, settings: GenerateSettings, callbacks: Callbacks) -> ViewSet:
        return self.run(image, settings, callbacks).views

    def run(self, image: str | Path | PreparedImage, settings: GenerateSettings, callbacks: Callbacks) -> PriorViews:
        from latentdreamer.priors.normal_masks import view_mask
        from latentdreamer.render.grid_image import GRID_COLS, GRID_ROWS, split_grid

        paths = self._paths()
        prepared = (
            image
            if isinstance(image, PreparedImage)
            else prepare_image(image, fill=self.framing, segmentation=self.segmentation, locations=self.locations)
        )
        model = self._load(paths, settings.device)
        size = model.tile_size
        notes = [f"background removal: {prepared.segmentation}", *prepared.notes]
        if model.device.type == "cpu":
            notes.append("ran on the CPU (slow); a CUDA GPU with about 5 GB free runs fp16 in seconds")
        steps = self.steps or PRESET_STEPS[settings.preset]
        report = StepReporter(callbacks, steps * (2 if self.normals else 1), self.span)
        common = dict(
            steps=steps,
            guidance=self.guidance,
            seed=settings.seed,
            width=GRID_COLS * size,
            height=GRID_ROWS * size,
            on_step=report,
            should_cancel=callbacks.should_cancel,
        )
        colour = model.sample(prepared.condition, **common)
        normal_grid = model.sample(prepared.condition, control=colour, **common) if self.normals else None
        tiles = split_grid(colour)
        if normal_grid is None:
            return PriorViews(ViewSet(rgb=np.stack(tiles).astype(np.float32)), prepared, colour, None, notes)
        masks = [view_mask(rgb, n) for rgb, n in zip(tiles, split_grid(normal_grid), strict=True)]
        notes.append(f"masks: {masks[0].method}")
        views = ViewSet(
            rgb=np.stack([m.rgb for m in masks]),
            alpha=np.stack([m.alpha for m in masks]),
            normals=np.stack([m.normals for m in masks]),
        )
        notes.append(view_scale_note(views.alpha, self.framing))
        return PriorViews(views, prepared, colour, normal_grid, notes)


def view_scale_note(alpha: np.ndarray, framing: float) -> str:
    """What the generated silhouettes say about the views' scale, for the job's notes: the
    pipeline assumes the object fills the cameras' radius-0.5 sphere, and no setting of the
    input framing guarantees that the model keeps to it."""
    from latentdreamer.render.cameras import prior_cameras
    from latentdreamer.render.silhouette_scale import estimate_view_scale

    scale = estimate_view_scale(alpha, prior_cameras()).scale
    return f"object scale in the views: {scale:.2f} of the assumed (from their silhouettes; input framing {framing:g})"


class UserViewsProvider:
    """The user's own six views (grid image or six files, optional normal maps): no diffusion."""

    name = "user-views"

    def __init__(
        self,
        grid: str | Path | None = None,
        files: Sequence[str | Path] | None = None,
        normals_grid: str | Path | None = None,
        normal_files: Sequence[str | Path] | None = None,
    ) -> None:
        self.kwargs = {"grid": grid, "files": files, "normals_grid": normals_grid, "normal_files": normal_files}

    def views(self, image, settings: GenerateSettings, callbacks: Callbacks) -> ViewSet:
        from latentdreamer.priors.user_views import load_views

        views = load_views(**self.kwargs)
        callbacks.on_progress(Progress(STAGE, 1, 1, 1.0, 0.0, "views loaded"))
        return views
