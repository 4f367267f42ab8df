"""The worker's job: a generate request -> the one job path (`latentdreamer.job`) -> a mesh.

Models load on the first job (or during the warm-up after start-up), not at import, and stay
loaded in one `Models` for the worker's life. `--pipeline MODULE:FUNCTION` swaps `execute`
for another function with the same signature (a test double, a pipeline under development).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from pathlib import Path

from latentdreamer import threads
from latentdreamer.api import Callbacks, Cancelled, GenerateSettings, GenerationResult
from latentdreamer.errors import UserFacingError
from latentdreamer.job import JobInputs, Models, run_job
from latentdreamer.locations import Locations
from latentdreamer.worker.jobs import Job, JobReporter
from latentdreamer.worker.protocol import GenerateRequest, ImageSource, RequestError

log = logging.getLogger(__name__)

_models = Models()
"""What this worker keeps loaded; `use_models` sets where its weights are at start-up."""

_warm_up_stop = threading.Event()
_warm_up_thread: threading.Thread | None = None


def use_models(locations: Locations) -> None:
    """Where this worker's weights live (the server's arguments and environment, read once at start)."""
    global _models
    _models = Models(locations)


def capabilities() -> dict:
    """What this backend can run, found without importing torch at start-up: six views
    always; a single image or a prompt when the diffusion stack is installed."""
    import importlib.util

    diffusion = all(importlib.util.find_spec(m) is not None for m in ("diffusers", "transformers"))
    return {"inputs": ["views"] + (["image", "prompt"] if diffusion else []), "pipeline": True}


def start_warm_up() -> None:
    """Compile and load ahead of the first job, while the artist is still choosing inputs.

    In a background thread: load the shape prior and run one `tiny` generation on a small
    synthetic object, which loads every numba kernel (from its cache, or compiles it on the
    first run after an install) and warms torch's kernels. A job that arrives meanwhile
    stops it at its next step (`finish_warm_up`) and runs on what is loaded by then.
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
    from latentdreamer.geometry.example_object import example_object
    from latentdreamer.pipeline.generate import generate_from_views
    from latentdreamer.pipeline.oracle_views import oracle_views

    start = time.perf_counter()
    try:
        settings = GenerateSettings(preset="tiny", device="auto")
        prior = _models.shape_prior(settings.device)
        if _warm_up_stop.is_set():
            raise Cancelled(None, "init")
        _, views = oracle_views(example_object(seed=1, resolution=32), resolution=128)
        generate_from_views(views, settings, Callbacks(should_cancel=_warm_up_stop.is_set), prior=prior)
        log.info("warm-up done in %.1f s", time.perf_counter() - start)
    except Cancelled:
        log.info("warm-up stopped by a job after %.1f s", time.perf_counter() - start)
    except UserFacingError as exc:  # damaged weights, say: the first job reports it as its error, so no traceback
        log.warning("warm-up skipped: %s", exc.message)
    except Exception:  # a failed warm-up costs only time; the job reports the real problem
        log.exception("warm-up failed")


def job_inputs(request: GenerateRequest) -> JobInputs:
    """The request's inputs as the one job takes them."""

    def grid(source: ImageSource | None) -> Path | None:
        return Path(source.grid) if source is not None and source.grid is not None else None

    def files(source: ImageSource | None) -> tuple[Path, ...] | None:
        return tuple(Path(f) for f in source.files) if source is not None and source.files else None

    return JobInputs(
        image=Path(request.image) if request.image else None,
        prompt=request.prompt,
        view_grid=grid(request.views),
        view_files=files(request.views),
        normal_grid=grid(request.normals),
        normal_files=files(request.normals),
    )


def execute(job: Job, settings: GenerateSettings, reporter: JobReporter) -> GenerationResult:
    check_device(settings.device)
    finish_warm_up()
    plan = threads.before_job()  # the machine may be busier (or idler) than at the last job
    log.info("job %s: %d threads (%s)", job.id, plan.threads, plan.reason)
    assert job.folder is not None
    _models.shape_prior(settings.device)  # damaged weights end the job now, not after the views are made
    done = run_job(
        job_inputs(job.request), settings, job.folder / "views", reporter.callbacks(), _models, on_views=reporter.saved_views
    )
    return done.result


def release_models() -> None:
    """Forget loaded models (after running out of memory: the mesh needs the room)."""
    _models.release()


def check_device(choice: str) -> None:
    if choice not in ("cuda", "mps"):
        return
    from latentdreamer.device import resolve_device

    try:
        resolve_device(choice)
    except RuntimeError as exc:
        raise RequestError("device_unavailable", getattr(exc, "message", str(exc)), "set device to auto or cpu") from None


def load_execute(spec: str):
    """'package.module:function' -> the function (for `--pipeline`)."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"--pipeline wants MODULE:FUNCTION, got {spec!r}")
    return getattr(importlib.import_module(module_name), name)
