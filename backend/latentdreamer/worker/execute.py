"""What one generate job does: inputs -> six views -> pipeline -> mesh.

This is the worker's only link to the generation pipeline, imported lazily (torch and the
models load on the first job, not at start-up). Parts of the pipeline that this backend
does not have yet, or whose weights are missing, become clean `error` events with a hint
instead of a traceback. `--pipeline MODULE:FUNCTION` swaps this function for another with
the same signature (another prior, a pipeline under development, a test double).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import threading
from typing import Any

from latentdreamer import threads
from latentdreamer.pipeline.api import Cancelled, GenerateSettings, GenerationResult
from latentdreamer.worker.jobs import Job, JobReporter
from latentdreamer.worker.protocol import ImageSource, RequestError

log = logging.getLogger(__name__)

LOAD_VIEWS = ("latentdreamer.pipeline.inputs", "load_views")
GENERATE = ("latentdreamer.pipeline.generate", "generate_from_views")
PRIOR = ("latentdreamer.priors.provider", "Zero123PlusProvider")
SAVE_PRIOR_VIEWS = ("latentdreamer.priors.single_image", "save_prior_views")
PRIOR_SPAN = (0.0, 0.3)
"""Share of a single-image job's progress bar given to multi-view diffusion."""
PROMPT_SPAN = (0.0, 0.1)
"""Share of a text job's progress bar given to making the image (its views follow up to 0.3)."""

_providers: dict[str | None, Any] = {}
"""Loaded priors, kept between jobs: loading Zero123++ takes longer than sampling it."""

_shape_priors: dict[str, Any] = {}
"""The SAE and LIN per device, loaded once per worker (verified at load, then kept)."""

_warm_up_stop = threading.Event()
_warm_up_thread: threading.Thread | None = None


def capabilities() -> dict[str, Any]:
    """What this backend can run, found without importing the pipeline (torch) at start-up."""
    return {
        "inputs": ["views"] + (["image"] if _module_exists(PRIOR[0]) else [])
                  + (["prompt"] if _module_exists("latentdreamer.priors.text_to_image") else []),
        "pipeline": all(_module_exists(module) for module, _ in (LOAD_VIEWS, GENERATE)),
    }


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def start_warm_up() -> None:
    """Compile and load ahead of the first job, while the artist is still choosing inputs.

    In a background thread: import the pipeline, load the shape prior, and run one `tiny`
    generation on a small synthetic object, which loads every numba kernel (from its cache,
    or compiles it on the first run after an install) and warms torch's kernels. A job that
    arrives meanwhile stops it at its next step (`finish_warm_up`) and runs on what is
    loaded by then.
    """
    global _warm_up_thread
    if _warm_up_thread is not None:
        return
    _warm_up_stop.clear()
    _warm_up_thread = threading.Thread(target=_warm_up, name="latentdreamer-warm-up", daemon=True)
    _warm_up_thread.start()


def finish_warm_up() -> None:
    """Stop a running warm-up and wait for it (a job must not share the cores with it)."""
    _warm_up_stop.set()
    if _warm_up_thread is not None:
        _warm_up_thread.join()


def _warm_up() -> None:
    import time

    from latentdreamer.pipeline.api import Callbacks
    from latentdreamer.pipeline.example_object import example_object
    from latentdreamer.pipeline.oracle_views import oracle_views

    start = time.perf_counter()
    try:
        settings = GenerateSettings(preset="tiny", device="auto")
        prior = shape_prior(settings.device)
        if _warm_up_stop.is_set():
            raise Cancelled(None, "init")
        _, views = oracle_views(example_object(seed=1, resolution=32), resolution=128)
        generate = pipeline_attr(*GENERATE)
        generate(views, settings, Callbacks(should_cancel=_warm_up_stop.is_set), prior=prior)
        log.info("warm-up done in %.1f s", time.perf_counter() - start)
    except Cancelled:
        log.info("warm-up stopped by a job after %.1f s", time.perf_counter() - start)
    except Exception:  # a failed warm-up costs only time; the job reports the real problem
        log.exception("warm-up failed")


def shape_prior(device_choice: str):
    """The SAE + LIN for this device, loaded on first use and kept for the worker's life."""
    from latentdreamer.device import resolve_device
    from latentdreamer.pipeline.shape_prior import load_shape_prior

    device = resolve_device(device_choice)
    key = str(device)
    if key not in _shape_priors:
        _shape_priors[key] = load_shape_prior(device)
    return _shape_priors[key]


def execute(job: Job, settings: GenerateSettings, reporter: JobReporter) -> GenerationResult:
    check_device(settings.device)
    finish_warm_up()
    plan = threads.before_job()  # the machine may be busier (or idler) than at the last job
    log.info("job %s: %d threads (%s)", job.id, plan.threads, plan.reason)
    request = job.request
    assert job.folder is not None
    if request.prompt is not None:
        image = _image_from_prompt(request.prompt, job, settings, reporter)
        views = _views_from_image(str(image), job, settings, reporter, span=(PROMPT_SPAN[1], PRIOR_SPAN[1]))
        reporter.span = (PRIOR_SPAN[1], 1.0)
    elif request.image is not None:
        views = _views_from_image(request.image, job, settings, reporter)
        reporter.span = (PRIOR_SPAN[1], 1.0)
    else:
        load_views = pipeline_attr(*LOAD_VIEWS)
        assert request.views is not None
        views = load_views(**_source_kwargs(request.views, "grid", "files"),
                           **(_source_kwargs(request.normals, "normals_grid", "normal_files") if request.normals else {}))
        reporter.views(views)
    if job.cancel.is_set():  # loading views can take a while; do not start the optimisation then
        raise Cancelled(None, "views")
    generate = pipeline_attr(*GENERATE)
    return generate(views, settings, reporter.callbacks(), prior=shape_prior(settings.device))


def _image_from_prompt(prompt: str, job: Job, settings: GenerateSettings, reporter: JobReporter):
    """The object image for a text prompt, saved in the job folder; every model the job needs
    is checked first, so a missing download fails before anything loads."""
    from latentdreamer.priors.text_to_image import prompt_image
    from latentdreamer.priors.weights import require

    models_dir = os.environ.get("LATENTDREAMER_MODELS")
    require(("text-to-image", "zero123plus", "normal-controlnet"), models_dir)
    assert job.folder is not None
    return prompt_image(prompt, job.folder / "prompt_image.png", settings, reporter.callbacks(), models_dir,
                        span=PROMPT_SPAN)


def _views_from_image(image: str, job: Job, settings: GenerateSettings, reporter: JobReporter,
                      span: tuple[float, float] = PRIOR_SPAN):
    """Zero123++ views (weights are checked before any model loads), saved in the job folder."""
    provider_class = pipeline_attr(*PRIOR)
    save_prior_views = pipeline_attr(*SAVE_PRIOR_VIEWS)
    key = os.environ.get("LATENTDREAMER_MODELS")
    provider = _providers.get(key)
    if provider is None:
        provider = _providers[key] = provider_class(models_dir=key, span=PRIOR_SPAN)
    provider.span = span
    prior = provider.run(image, settings, reporter.callbacks())
    paths = save_prior_views(prior, job.folder / "views")
    reporter.saved_views(paths)
    return prior.views


def release_models() -> None:
    """Forget loaded priors (after running out of memory: the mesh needs the room)."""
    _providers.clear()
    _shape_priors.clear()


def check_device(choice: str) -> None:
    if choice not in ("cuda", "mps"):
        return
    from latentdreamer.device import resolve_device

    try:
        resolve_device(choice)
    except RuntimeError as exc:
        raise RequestError("device_unavailable", str(exc), "set device to auto or cpu") from None


def pipeline_attr(module_name: str, name: str) -> Any:
    """`module.name`, or a `not_available` error when this backend does not ship it yet."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise  # the module exists but one of its own imports is missing: a real bug
        module = None
    if module is None or not hasattr(module, name):
        raise RequestError("not_available", f"this backend has no {module_name}.{name} yet",
                           "update the backend (pip install -U latentdreamer)")
    return getattr(module, name)


def load_execute(spec: str):
    """'package.module:function' -> the function (for `--pipeline`)."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"--pipeline wants MODULE:FUNCTION, got {spec!r}")
    return getattr(importlib.import_module(module_name), name)


def _source_kwargs(source: ImageSource, grid_name: str, files_name: str) -> dict[str, Any]:
    return {grid_name: source.grid} if source.grid is not None else {files_name: list(source.files or ())}
