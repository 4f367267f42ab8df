"""One generate job, the same for `latentdreamer generate`, the worker and `latentdreamer batch`.

    inputs (an image, a text prompt, six views, or a mesh to render) -> six views, saved
    -> the mesh pipeline -> a `GenerationResult`

The callers differ only at their edges: the CLI draws a progress bar and writes one mesh
file, the worker turns callbacks into protocol events and writes its job folder, batch
loops over many items. Everything between — which prior makes the views, where they are
saved, how the one progress bar is shared between the prior and the pipeline, and which
models are kept loaded between jobs — is here, once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from latentdreamer.api import Callbacks, GenerateSettings, GenerationResult, ViewSet
from latentdreamer.locations import Locations
from latentdreamer.priors.image_input import OBJECT_FILL

PROMPT_SPAN = (0.0, 0.1)
"""Share of a text job's progress bar for making its image."""
PRIOR_END = 0.3
"""Where multi-view diffusion ends on the bar of an image (or text) job; the mesh takes the rest."""


@dataclass(frozen=True)
class JobInputs:
    """Exactly one source: `image`, `prompt`, six `view_*` (optionally with `normal_*`), or `mesh`."""

    image: Path | None = None
    prompt: str | None = None
    prompt_suffix: str | None = None
    view_grid: Path | None = None
    view_files: tuple[Path, ...] | None = None
    normal_grid: Path | None = None
    normal_files: tuple[Path, ...] | None = None
    mesh: Path | None = None
    mesh_normals: bool = True
    """With `mesh`: render normal maps too (False: masks-only views)."""

    @property
    def source(self) -> str:
        """'image', 'prompt', 'views' or 'mesh'; ValueError unless exactly one is given."""
        given = {
            "image": self.image is not None,
            "prompt": self.prompt is not None,
            "views": self.view_grid is not None or self.view_files is not None,
            "mesh": self.mesh is not None,
        }
        chosen = [k for k, v in given.items() if v]
        if len(chosen) != 1:
            raise ValueError("give exactly one input: an image, a prompt, six views, or a mesh to render")
        if (self.normal_grid is not None or self.normal_files is not None) and chosen[0] != "views":
            raise ValueError("normal maps go with six views")
        return chosen[0]


@dataclass(frozen=True)
class PriorOptions:
    """How the multi-view prior runs (single-image and text jobs only)."""

    steps: int | None = None
    """Denoising steps; None: the preset's."""
    guidance: float = 4.0
    segmentation: str = "auto"
    framing: float = OBJECT_FILL
    """The object's share of the square condition image (priors/image_input.OBJECT_FILL)."""


@dataclass
class JobResult:
    result: GenerationResult
    views_dir: Path
    view_paths: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Models:
    """The models a process keeps loaded between jobs: loading Zero123++ takes longer than
    sampling it, and the SAE + LIN are verified once. A worker or a batch holds one; a single
    CLI run makes its own. Thread-safe (a worker's warm-up and its jobs share it)."""

    def __init__(self, locations: Locations | None = None) -> None:
        self.locations = locations or Locations()
        """Where the prior and shape weights are (built at the edge from arguments and environment)."""
        self._providers: dict[PriorOptions, Any] = {}
        self._shape_priors: dict[str, Any] = {}
        self._lock = threading.Lock()

    def provider(self, options: PriorOptions):
        from latentdreamer.priors.provider import Zero123PlusProvider

        with self._lock:
            if options not in self._providers:
                self._providers[options] = Zero123PlusProvider(
                    locations=self.locations,
                    steps=options.steps,
                    guidance=options.guidance,
                    segmentation=options.segmentation,
                    framing=options.framing,
                )
            return self._providers[options]

    def shape_prior(self, device_choice: str):
        """The SAE + LIN for this device, loaded on first use."""
        from latentdreamer.device import resolve_device
        from latentdreamer.pipeline.shape_prior import load_shape_prior

        device = resolve_device(device_choice)
        with self._lock:
            if str(device) not in self._shape_priors:
                self._shape_priors[str(device)] = load_shape_prior(device, self.locations)
            return self._shape_priors[str(device)]

    def release(self) -> None:
        """Forget every loaded model (after running out of memory: the mesh needs the room)."""
        with self._lock:
            self._providers.clear()
            self._shape_priors.clear()


def check_models(inputs: JobInputs, models: Models) -> None:
    """Fail at once, naming the download, when a model the job needs is missing."""
    from latentdreamer.priors.model_store import require

    if inputs.source == "prompt":
        require(("text-to-image", "zero123plus", "normal-controlnet"), models.locations)
    elif inputs.source == "image":
        require(("zero123plus", "normal-controlnet"), models.locations)


def _within(callbacks: Callbacks, lo: float, hi: float) -> Callbacks:
    """The same callbacks with progress fractions mapped into [lo, hi] of the one bar."""
    if (lo, hi) == (0.0, 1.0):
        return callbacks
    return replace(callbacks, on_progress=lambda p: callbacks.on_progress(replace(p, fraction=lo + (hi - lo) * p.fraction)))


def make_views(
    inputs: JobInputs,
    settings: GenerateSettings,
    views_dir: Path,
    callbacks: Callbacks,
    models: Models,
    prior: PriorOptions = PriorOptions(),
) -> tuple[ViewSet, dict[str, Any], list[str], float]:
    """The six views of any source, saved in `views_dir`: (views, their paths, notes, the
    share of the bar they used)."""
    from latentdreamer.io.view_files import save_views

    source = inputs.source
    check_models(inputs, models)  # before anything is made or written
    views_dir.mkdir(parents=True, exist_ok=True)
    if source in ("image", "prompt"):
        from latentdreamer.priors.single_image import save_prior_views

        image, start = inputs.image, 0.0
        if source == "prompt":
            from latentdreamer.priors.text_to_image import prompt_image

            image = prompt_image(
                inputs.prompt or "",
                views_dir / "prompt_image.png",
                settings,
                callbacks,
                models.locations,
                inputs.prompt_suffix,
                span=PROMPT_SPAN,
            )
            start = PROMPT_SPAN[1]
        provider = models.provider(prior)
        provider.span = (start, PRIOR_END)
        result = provider.run(image, settings, callbacks)
        paths = save_prior_views(result, views_dir)
        if source == "prompt":
            paths["prompt_image"] = str(image)
        return result.views, paths, list(result.notes), PRIOR_END
    if source == "mesh":
        from latentdreamer.pipeline.oracle_views import load_oracle_mesh, oracle_views

        _, views = oracle_views(load_oracle_mesh(inputs.mesh), with_normals=inputs.mesh_normals)
    else:
        from latentdreamer.priors.user_views import load_views

        views = load_views(
            grid=inputs.view_grid,
            files=list(inputs.view_files) if inputs.view_files else None,
            normals_grid=inputs.normal_grid,
            normal_files=list(inputs.normal_files) if inputs.normal_files else None,
        )
    return views, save_views(views_dir, views), [], 0.0


def run_job(
    inputs: JobInputs,
    settings: GenerateSettings,
    views_dir: Path,
    callbacks: Callbacks | None = None,
    models: Models | None = None,
    prior: PriorOptions = PriorOptions(),
    on_views: Callable[[dict[str, Any]], None] | None = None,
) -> JobResult:
    """Make the six views (saved in `views_dir` whatever happens later), then the mesh.

    Raises UserFacingError (bad input, missing weights) before any model loads where it can,
    and `Cancelled` (carrying the best mesh so far) when `callbacks.should_cancel()` turns true.
    """
    from latentdreamer.api import Cancelled
    from latentdreamer.pipeline.generate import generate_from_views

    callbacks = callbacks or Callbacks()
    models = models or Models()
    views, paths, notes, used = make_views(inputs, settings, views_dir, callbacks, models, prior)
    if on_views is not None:
        on_views(paths)
    if callbacks.should_cancel():  # making the views can take a while; do not start the mesh then
        raise Cancelled(None, "views")
    result = generate_from_views(views, settings, _within(callbacks, used, 1.0), prior=models.shape_prior(settings.device))
    return JobResult(result, views_dir, paths, notes)
