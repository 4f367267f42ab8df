"""The add-on's side of a backend session: owns the client, turns events into state and meshes.

Everything here runs on Blender's main thread. The client's reader thread only fills a
queue; `Session.pump()` drains it (the modal operator's timer calls it, and so do the
tests and the blocking batch API), so Blender data is only ever touched from here.

One worker per Blender session, started on first use and kept warm (its models stay
loaded) until "Release backend" or the add-on is disabled.
"""

from __future__ import annotations

import re
import threading
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

import bpy

from . import mesh_import, progress_text
from .mesh_import import ImportOptions, MeshArrays

TERMINAL = ("result", "cancelled", "error")

# The worker's stats worth a line in the panel, with their labels.
SUMMARY_STATS = {"num_vertices": "vertices", "num_faces": "faces", "preset": "preset", "device": "device"}

# Where the add-on has a button for it, the hint names the button, not a terminal command.
ADDON_HINTS = {
    "weights_missing": "open Preferences > Add-ons > LatentDreamer and click Download Models "
    "(needs online access; Zero123++ weights are CC-BY-NC 4.0), or bring your own six views",
}


@dataclass
class Job:
    """One generate request and what it has produced so far."""

    request_id: str
    name: str
    location: tuple[float, float, float]
    options: ImportOptions
    live_preview: bool = True
    collection: Any = None  # bpy.types.Collection or None (the scene's)
    state: str = "running"  # running | done | cancelled | error
    stage: str = ""
    step: int = 0
    total: int = 0
    fraction: float = 0.0
    eta_s: float | None = None
    message: str = ""
    views: list[str] = field(default_factory=list)
    object_name: str = ""
    error_code: str = ""
    error: str = ""
    hint: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    result_path: str = ""  # the worker's npz (lives until the worker prunes its job folder)
    cancel_requested: bool = False
    log_path: str = ""  # the worker's log file, named in failure messages
    rate: progress_text.RateGate = field(default_factory=progress_text.RateGate)

    @property
    def finished(self) -> bool:
        return self.state != "running"

    @property
    def object(self) -> bpy.types.Object | None:
        return bpy.data.objects.get(self.object_name) if self.object_name else None

    def handle(self, event: dict[str, Any]) -> None:
        """Apply one event for this job (main thread only)."""
        kind = event.get("type")
        if kind == "queued":
            self.message = f"Waiting for the backend (position {event.get('position', '?')} in its queue)"
        elif kind == "progress":
            self.stage = str(event.get("stage", ""))
            self.step = int(event.get("step", 0))
            self.total = int(event.get("total", 0))
            self.fraction = float(event.get("fraction", 0.0))
            eta = event.get("eta_s", event.get("eta"))
            self.eta_s = self.rate.eta(self.stage, float(eta) if eta is not None else None, time.monotonic())
            detail = str(event.get("message", ""))
            self.message = detail if progress_text.is_artist_message(detail) else ""
        elif kind == "views":
            rgb = event.get("rgb") or event.get("paths") or []
            self.views = [str(p) for p in rgb]
        elif kind == "preview":
            if self.live_preview and event.get("path"):
                self._show(event["path"], final=False)
        elif kind == "result":
            if not self._show(event["path"], final=True):
                return
            self.result_path = str(event["path"])
            self.stats = dict(event.get("stats") or {})
            self.timings = dict(event.get("timings") or {})
            self.fraction = 1.0
            self.state = "done"
            self.message = "Done"
        elif kind == "cancelled":
            # Keep the best mesh so far: the worker's, else the last preview already shown.
            if event.get("path"):
                if not self._show(event["path"], final=True):
                    return
            elif self.object is not None:
                mesh_import.finish_mesh(self.object, self.options)
                mesh_import.undo_push(f"LatentDreamer: {self.name} (cancelled)")
            self.state = "cancelled"
            stage = progress_text.stage_label(str(event.get("stage") or self.stage)).lower() or "the start"
            self.message = f"Cancelled while {stage}. {self.kept_text()}"
        elif kind == "error":
            self.fail(str(event.get("code", "")), str(event.get("message", "")), str(event.get("hint", "")))

    def kept_text(self) -> str:
        """What is left in the scene after a job ended early, in one sentence."""
        if self.object is not None:
            return f"The mesh so far was kept as '{self.object.name}'."
        return "Nothing was kept: no mesh had formed yet."

    def fail(self, code: str, message: str, hint: str = "") -> None:
        """End the job with an error; a dead worker or a release is said in plain words."""
        self.state = "error"
        self.error_code = code
        if code in ("worker_died", "released") and self.object is not None:
            mesh_import.finish_mesh(self.object, self.options)  # the last preview becomes the kept mesh
        log = f" Worker log: {self.log_path}" if self.log_path else ""
        if code == "worker_died":
            code_match = re.search(r"exited with code (-?\d+)", message)
            how = ""
            if code_match:
                exit_code = int(code_match.group(1))
                how = f" (killed by signal {-exit_code})" if exit_code < 0 else f" (exit code {exit_code})"
            self.error = f"The backend stopped unexpectedly{how}. {self.kept_text()}"
            self.hint = f"Generate again to start a new backend.{log}"
        elif code == "released":
            self.error = f"The backend was released while this job ran. {self.kept_text()}"
            self.hint = "Generate again to restart it."
        else:
            self.error = message
            self.hint = ADDON_HINTS.get(code, hint)
            if code == "internal" and log:
                self.hint = f"{self.hint}{log}"

    def _show(self, path: str, final: bool) -> bool:
        """Import a preview or final mesh; False (and the job failed) when the file is unusable."""
        try:
            arrays = MeshArrays.load(path)
            obj = self.object
            if obj is None:
                options = (
                    self.options
                    if final
                    else ImportOptions(target_size=self.options.target_size, origin_bottom=self.options.origin_bottom)
                )
                obj = mesh_import.create_object(self.name, arrays, self.location, options, self.collection)
                self.object_name = obj.name
            else:
                mesh_import.replace_mesh(obj, arrays, self.options)
                if final:
                    mesh_import.finish_mesh(obj, self.options)
            if final and (arrays.colors is not None or arrays.uvs is not None):
                textured = mesh_import.mesh_texture(obj.data) is not None
                mesh_import.show_colours_in_solid_view(color_type="TEXTURE" if textured else "VERTEX")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            if not final:  # the job goes on in the worker; a later preview or the result may be fine
                self.message = f"preview skipped ({exc})"
                return False
            self.fail(
                "bad_result",
                f"could not import the mesh {path}: {exc}",
                "the worker wrote a file Blender cannot read; see the worker log",
            )
            return False
        if final:
            mesh_import.undo_push(f"LatentDreamer: {self.name}")
        return True

    def report_text(self) -> str:
        """The error as one line for `Operator.report` (message, then the worker's hint)."""
        return f"{self.error} — {self.hint}" if self.hint else self.error

    def stats_text(self) -> str:
        """A short summary for the panel; the worker's full stats stay in `stats`."""
        keys = [k for k in SUMMARY_STATS if k in self.stats] or [
            k for k, v in self.stats.items() if not isinstance(v, (dict, list))
        ]
        parts = [f"{SUMMARY_STATS.get(k, k)}: {self.stats[k]}" for k in keys]
        total = self.timings.get("total_s", self.timings.get("total"))
        if total is None and self.timings:
            total = sum(float(t) for t in self.timings.values())
        if total is not None:
            parts.append(f"time: {float(total):.1f} s")
        return ", ".join(parts)


class Session:
    """The worker connection and the jobs it runs."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.command = command
        self.env = env
        self.client = None  # client.BackendClient, made on first use
        self.jobs: dict[str, Job] = {}
        self._prestart: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self.client is not None and self.client.running

    @property
    def info(self) -> dict[str, Any]:
        """What the worker said about itself: its hello, then its device once torch loaded."""
        if self.client is None:
            return {}
        return {**(self.client.hello or {}), **(self.client.device or {})}

    def ensure_client(self):
        if self.client is None:
            from .client import BackendClient

            self.client = BackendClient(self.command, env=self.env)
        return self.client

    def prestart(self) -> None:
        """Start the worker in the background (it then loads and compiles its pipeline) while
        the artist is still choosing inputs, so the first Generate runs like a later one.

        Never blocks and never raises: a backend that cannot start says so, with its message,
        at the Generate that needs it.
        """
        if self.alive or self._prestart is not None and self._prestart.is_alive():
            return
        client = self.ensure_client()

        def run() -> None:
            try:
                client.start()
            except Exception as exc:  # reported again, to the user, by the Generate that needs it
                print(f"[LatentDreamer] the backend could not start early: {exc}")

        self._prestart = threading.Thread(target=run, name="latentdreamer-prestart", daemon=True)
        self._prestart.start()

    def start(
        self,
        inputs: dict[str, Any],
        name: str,
        settings: dict[str, Any],
        location: tuple[float, float, float] = (0.0, 0.0, 0.0),
        options: ImportOptions = ImportOptions(),
        live_preview: bool = True,
        collection: Any = None,
    ) -> Job:
        """Send a generate request; `inputs` is {"image": path} or {"views": {...}, "normals": {...}}
        as in docs/protocol.md. Starting the worker (first job) waits for its hello."""
        client = self.ensure_client()
        request_id = client.generate(**inputs, settings=settings)
        job = Job(
            request_id,
            name,
            tuple(location),
            options,
            live_preview,
            collection,
            log_path=str((client.hello or {}).get("log_file") or ""),
        )
        self.jobs[request_id] = job
        return job

    def cancel(self, job: Job) -> None:
        if job.finished or job.cancel_requested or self.client is None:
            return
        job.cancel_requested = True
        job.message = "Cancelling…"
        self.client.cancel(job.request_id)

    def pump(self) -> list[Job]:
        """Drain the client's queue and apply every event; returns the jobs that changed.

        Never blocks: this is what the modal operator's timer calls.
        """
        if self.client is None:
            return []
        changed: dict[str, Job] = {}
        for event in self.client.poll():
            job = self.jobs.get(event.get("id") or "")
            if job is None and event.get("type") == "error" and event.get("code") == "worker_died":
                # The worker died with no request of ours pending an answer from it.
                continue
            if job is None or job.finished:
                continue
            job.handle(event)
            changed[job.request_id] = job
        return list(changed.values())

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if not j.finished]

    def forget_finished(self) -> None:
        self.jobs = {k: j for k, j in self.jobs.items() if not j.finished}

    def close(self) -> None:
        for job in self.running():
            job.fail("released", "the backend was released while the job ran", "generate again to restart it")
        if self._prestart is not None:
            self._prestart.join()  # the client's start holds its lock; close after it
        if self.client is not None:
            self.client.close()
        self.client = None


_session: Session | None = None


class BackendBusy(RuntimeError):
    """The backend set-up changed while a job runs; restarting would kill that job."""


def get(command: list[str], env: dict[str, str] | None = None) -> Session:
    """The session for this command and environment, restarted when the backend set-up changed.

    `env` holds variables added to Blender's environment for the worker. A running job is
    never killed for a new set-up: that raises `BackendBusy` until the job ends.
    """
    global _session
    if _session is not None and (_session.command != command or _session.env != env):
        if _session.running():
            raise BackendBusy(
                "the backend is busy with a job started with other settings; wait for it to finish (or cancel it), then try again"
            )
        release()
    if _session is None:
        _session = Session(command, env)
    return _session


def current() -> Session | None:
    return _session


def release() -> None:
    """End the worker process (frees its GPU memory); the next job starts a new one."""
    global _session
    if _session is not None:
        _session.close()
    _session = None


def copy_to_status(job: Job, status) -> None:
    """Mirror a job into the window manager's status (any object with those attributes)."""
    status.running = not job.finished
    status.log_path = job.log_path
    status.progress = max(0.0, min(1.0, job.fraction))
    status.stage = job.stage
    status.step = job.step
    status.total = job.total
    status.eta = job.eta_s if job.eta_s is not None else -1.0
    status.message = job.message
    status.error = job.error
    status.hint = job.hint
    status.object_name = job.object_name
    if job.state == "done":
        status.stats = job.stats_text()
    if len(status.views) != len(job.views):
        status.views.clear()
        for path in job.views:
            status.views.add().path = path
