"""Running generate jobs one at a time on a thread, with a bounded FIFO queue.

One job at a time because a job fills the GPU; a queue (rather than refusing a second
request) because an artist clicking Generate on three images wants three meshes. The main
thread only reads requests, so `cancel` and `ping` are answered while a job computes.

Every job ends in exactly one terminal event, whatever happens inside it: `result`,
`cancelled` or `error`. Running out of memory is retried once at the next lower preset.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from latentdreamer.api import PRESETS, Callbacks, Cancelled, GenerateSettings, GenerationResult, Progress
from latentdreamer.errors import UserFacingError, write_failed
from latentdreamer.io.view_files import save_views
from latentdreamer.worker.protocol import ERROR_CODES, GenerateRequest, RequestError, make_event
from latentdreamer.worker.results import JobFolders, private_files, write_glb, write_mesh_npz

log = logging.getLogger("latentdreamer.worker")

Emit = Callable[[dict[str, Any]], None]

KEEP_PREVIEWS = 3
"""Preview files kept per job: the newest is being read while the next one is written."""

LOWEST_RETRY_PRESET = "draft"
"""An out-of-memory job is retried one preset lower, but never below `draft`: `tiny` is for tests."""


@dataclass
class Job:
    request: GenerateRequest
    settings: GenerateSettings
    cancel: threading.Event = field(default_factory=threading.Event)
    submitted: float = field(default_factory=time.monotonic)
    folder: Path | None = None

    @property
    def id(self) -> str:
        return self.request.id


class JobReporter:
    """Turns pipeline callbacks into events; progress is thinned to `min_interval` per stage."""

    def __init__(self, job: Job, emit: Emit, min_interval: float = 0.1, on_step: Callable[[], None] = lambda: None) -> None:
        self.job = job
        self._on_step = on_step
        self._emit = emit
        self._min_interval = min_interval
        self._last_stage: str | None = None
        self._last_time = 0.0
        self._previews = 0
        self.stage = "queued"
        self.span = (0.0, 1.0)
        """Where the pipeline's 0..1 lands in the job's fraction (after a prior took the start)."""

    def callbacks(self) -> Callbacks:
        return Callbacks(on_progress=self.progress, on_preview=self.preview, should_cancel=self.job.cancel.is_set)

    def progress(self, p: Progress) -> None:
        self._on_step()
        self.stage = p.stage
        now = time.monotonic()
        if p.stage == self._last_stage and p.step < p.total and now - self._last_time < self._min_interval:
            return
        self._last_stage, self._last_time = p.stage, now
        lo, hi = self.span
        self._emit(
            make_event(
                "progress",
                self.job.id,
                stage=p.stage,
                step=p.step,
                total=p.total,
                fraction=lo + (hi - lo) * p.fraction,
                eta_s=p.eta_s,
                message=p.message,
            )
        )

    def note(self, message: str) -> None:
        """A progress line that only carries a message (e.g. an out-of-memory retry)."""
        self._emit(
            make_event("progress", self.job.id, stage=self.stage, step=0, total=0, fraction=0.0, eta_s=None, message=message)
        )

    def preview(self, mesh, stage: str) -> None:
        assert self.job.folder is not None
        self._previews += 1
        path = self.job.folder / f"preview-{self._previews:04d}.npz"
        try:
            counts = write_mesh_npz(path, mesh)
        except UserFacingError as exc:  # a preview is a nicety; a full disk shows up in the result
            log.warning("could not write preview %s: %s", path, exc.message)
            return
        # A long job makes hundreds of previews; only the newest few can still be wanted.
        (self.job.folder / f"preview-{self._previews - KEEP_PREVIEWS:04d}.npz").unlink(missing_ok=True)
        self._emit(make_event("preview", self.job.id, stage=stage, path=str(path), **counts))

    def views(self, views) -> None:
        assert self.job.folder is not None
        folder = self.job.folder / "views"
        try:
            paths = save_views(folder, views)
            private_files(folder)
        except OSError as exc:
            raise write_failed(folder, exc, _WRITE_HINT) from None
        self.saved_views(paths)

    def saved_views(self, paths: dict[str, Any]) -> None:
        """`views` for images already on disk; extra keys (condition image, grids, notes) ride along."""
        if self.job.folder is not None and (self.job.folder / "views").is_dir():
            private_files(self.job.folder / "views")  # written by code that follows the umask
        self._emit(make_event("views", self.job.id, **paths))


Execute = Callable[[Job, GenerateSettings, JobReporter], GenerationResult]


def user_error_code(code: str) -> str:
    """The pipeline's code when the protocol has it (weights_missing, ...); its generic
    `bad_input` and anything unknown are `invalid_input`, so clients see only stable codes."""
    return code if code in ERROR_CODES else "invalid_input"


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's OutOfMemoryError, a RuntimeError saying so (older torch, cuDNN), or a host MemoryError."""
    torch = sys.modules.get("torch")
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None) if torch else None
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def lower_preset(preset: str) -> str | None:
    index = PRESETS.index(preset)
    return PRESETS[index - 1] if index > PRESETS.index(LOWEST_RETRY_PRESET) else None


def release_memory() -> None:
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


class JobRunner:
    def __init__(
        self,
        execute: Execute,
        emit: Emit,
        folders: JobFolders,
        max_queue: int = 8,
        on_step: Callable[[], None] = lambda: None,
        progress_interval: float = 0.1,
        release: Callable[[], None] = release_memory,
    ) -> None:
        self._execute = execute
        self._emit = emit
        self._folders = folders
        self._max_queue = max_queue
        self._on_step = on_step
        self._progress_interval = progress_interval
        self._release = release
        self._queue: deque[Job] = deque()
        self._current: Job | None = None
        self._stopping = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="latentdreamer-job", daemon=True)
        self._thread.start()

    # -- called from the request thread ---------------------------------------------------
    def submit(self, request: GenerateRequest, settings: GenerateSettings) -> int:
        """Queues a job and sends `queued`; returns how many jobs run before it (0: it starts now)."""
        with self._cond:
            ids = {j.id for j in self._queue} | ({self._current.id} if self._current else set())
            if request.id in ids:
                raise RequestError(
                    "duplicate_id",
                    f"a job with id {request.id!r} is already queued or running",
                    "give every request a new id",
                    request.id,
                )
            if len(self._queue) >= self._max_queue:
                raise RequestError(
                    "queue_full",
                    f"{len(self._queue)} jobs are already waiting",
                    "wait for a result or cancel a queued job",
                    request.id,
                )
            job = Job(request, settings)
            if self._current is None and not self._queue:
                # Idle: the job is current from now on, not waiting, whether or not the job
                # thread has woken yet; so a request right behind it queues at position 1.
                self._current = job
                position = 0
            else:
                self._queue.append(job)
                position = len(self._queue) - 1 + (self._current is not None)
            # Sent under the lock, so `queued` always precedes the job's own events.
            self._emit(make_event("queued", request.id, position=position))
            self._cond.notify_all()
        return position

    def cancel(self, job_id: str) -> str:
        """'dequeued' (its `cancelled` is already sent) or 'cancelling' (it stops at its next step)."""
        with self._cond:
            if self._current is not None and self._current.id == job_id:
                self._current.cancel.set()
                return "cancelling"
            for job in self._queue:
                if job.id == job_id:
                    self._queue.remove(job)
                    self._emit(make_event("cancelled", job_id, stage="queued", path=None))
                    return "dequeued"
        raise RequestError(
            "unknown_job",
            f"no queued or running job has id {job_id!r}",
            "it may have finished already; its terminal event was sent",
        )

    def status(self) -> tuple[str | None, list[str]]:
        with self._cond:
            return (self._current.id if self._current else None), [j.id for j in self._queue]

    def stop(self, timeout: float) -> bool:
        """Cancels everything; True when the running job ended within `timeout` seconds."""
        with self._cond:
            self._stopping = True
            while self._queue:
                job = self._queue.popleft()
                self._emit(make_event("cancelled", job.id, stage="queued", path=None))
            if self._current is not None:
                self._current.cancel.set()
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the job thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._current is None and not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    if self._current is not None:  # submitted while idle, never started
                        self._emit(make_event("cancelled", self._current.id, stage="queued", path=None))
                        self._current = None
                    return
                if self._current is None:
                    self._current = self._queue.popleft()
                job = self._current
            try:
                event = self._run(job)
            except BaseException as exc:  # even SystemExit from a library: the job ends, the worker lives
                log.exception("job %s failed", job.id)
                event = _internal_error(job.id, exc)
            self._on_step()
            with self._cond:
                # The terminal event goes out when the job is no longer current, so a `ping`
                # answered after it never reports the job as running.
                self._current = None
                self._emit(event)

    def _run(self, job: Job) -> dict[str, Any]:
        """Runs one job; returns its terminal event."""
        started = time.monotonic()
        reporter = JobReporter(job, self._emit, self._progress_interval, self._on_step)
        try:
            job.folder = self._folders.create(job.id)
            result, settings = self._execute_with_retry(job, job.settings, reporter)
            path = job.folder / "result.npz"
            counts = write_mesh_npz(path, result.mesh)
            glb = None
            if job.request.glb:
                glb = job.folder / "result.glb"
                write_glb(glb, result.mesh)
            stats = {**result.stats, **counts, "preset": settings.preset, "requested_preset": job.settings.preset}
            timings = {**result.timings, "queued_s": started - job.submitted, "total_s": time.monotonic() - started}
            return make_event("result", job.id, path=str(path), glb=str(glb) if glb else None, stats=stats, timings=timings)
        except Cancelled as exc:
            return make_event("cancelled", job.id, stage=exc.stage, path=self._save_best(job, exc.best))
        except RequestError as exc:
            exc.request_id = job.id
            return exc.event()
        except UserFacingError as exc:  # bad inputs, missing weights, a full disk: the user can fix these
            return make_event("error", job.id, code=user_error_code(exc.code), message=exc.message, hint=exc.hint)
        except OSError as exc:
            if not self._in_jobs_folder(exc):
                log.exception("job %s failed", job.id)
                return _internal_error(job.id, exc)
            # Something in the pipeline wrote into the job folder and the disk said no.
            err = write_failed(exc.filename, exc, _WRITE_HINT)
            return make_event("error", job.id, code=err.code, message=err.message, hint=err.hint)
        except Exception as exc:  # the job failed, the worker lives on
            log.exception("job %s failed", job.id)
            return _internal_error(job.id, exc)

    def _in_jobs_folder(self, exc: OSError) -> bool:
        """Whether an OSError is about a file under the jobs root (or the root itself)."""
        if not exc.filename:
            return False
        root = str(self._folders.root)
        return any(str(name) == root or str(name).startswith(root + "/") for name in (exc.filename, exc.filename2) if name)

    @staticmethod
    def _save_best(job: Job, best) -> str | None:
        if best is None or job.folder is None:
            return None
        path = job.folder / "cancelled.npz"
        try:
            write_mesh_npz(path, best)
        except (OSError, ValueError, UserFacingError) as exc:
            log.warning("could not save the cancelled job's mesh: %s", exc)
            return None
        return str(path)

    def _execute_with_retry(self, job: Job, settings: GenerateSettings, reporter: JobReporter):
        """Runs the job; out of memory, runs it once more a preset lower (see LOWEST_RETRY_PRESET)."""
        lower = lower_preset(settings.preset)
        attempts = [settings] + ([replace(settings, preset=lower)] if lower else [])
        failures: list[str] = []
        for attempt in attempts:
            if failures:
                if job.cancel.is_set():
                    raise Cancelled(None, reporter.stage)
                log.warning("job %s ran out of memory at %s; retrying at %s", job.id, settings.preset, attempt.preset)
                reporter.note(f"out of memory at preset {settings.preset}; retrying once at {attempt.preset}")
            try:
                return self._execute(job, attempt, reporter), attempt
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                failures.append(f"{attempt.preset!r} ({type(exc).__name__}: {exc})")
            # Outside the except block, so the failed attempt's frames (and tensors) can be freed.
            self._release()
        raise RequestError("out_of_memory", "out of memory at preset " + ", then at ".join(failures), _OOM_HINT)


def _internal_error(job_id: str, exc: BaseException) -> dict[str, Any]:
    return make_event(
        "error",
        job_id,
        code="internal",
        message=f"{type(exc).__name__}: {exc}",
        hint="this is a bug in the backend; the worker log has the traceback",
    )


_WRITE_HINT = (
    "free disk space on the worker's machine (or start the worker with --jobs-dir on a disk with room), "
    "and leave the jobs folder alone while a job runs"
)
_OOM_HINT = "close other programs using the GPU, choose a smaller preset, or set device to cpu"
