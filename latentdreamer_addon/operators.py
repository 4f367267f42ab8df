"""Operators: thin wrappers over `session`, `image_source`, `preferences` and `backend_setup`.

`poll_jobs()` is the one function that moves a job forward (drain events, import meshes,
mirror state to the window manager). The modal operator's timer calls it; tests and the
batch API call it directly, so the UI path is the tested path.
"""

from __future__ import annotations

import time
from pathlib import Path

import bpy

from . import backend_setup, image_source, preferences, session
from .mesh_import import ImportOptions

POLL_INTERVAL_S = 0.1


class BackendUnavailable(RuntimeError):
    """No backend Python configured or installed yet."""


def worker_session(context=None, python: str | None = None, extra_args: str = "") -> session.Session:
    """The one worker the panel and the batch API share: the preferences' Backend Python (or
    `python`), Worker Options (plus `extra_args`) and Models Folder.

    Raises BackendUnavailable, or session.BackendBusy when the set-up differs from that of a
    job still running (it is never killed for another set-up)."""
    py = python or preferences.worker_python(context)
    if not py:
        raise BackendUnavailable(
            "no backend installed — open Preferences > Add-ons > LatentDreamer and click Install Backend (or set Backend Python)"
        )
    prefs = preferences.addon_prefs(context)
    command = backend_setup.worker_command(py, f"{prefs.worker_args if prefs else ''} {extra_args}".strip())
    return session.get(command, backend_setup.worker_env(preferences.models_dir(context)))


def prestart_backend(context=None) -> float | None:
    """Timer callback (one shot): start the configured backend early unless the artist turned
    it off or there is none yet; the panel registers it when first drawn."""
    prefs = preferences.addon_prefs(context)
    if prefs is not None and not prefs.start_early:
        return None
    try:
        worker_session(context).prestart()
    except RuntimeError:  # no backend installed, or busy with another set-up: Generate will say
        pass
    return None


def job_settings(settings, preset: str = "") -> dict:
    """The request's settings from the panel; `preset` overrides the panel's (scripts may ask
    for the backend's test preset `tiny`, which the panel does not offer)."""
    return {"preset": preset or settings.preset, "device": settings.device, "seed": settings.seed, "texture": settings.texture}


def import_options(settings) -> ImportOptions:
    return ImportOptions(
        target_size=settings.target_size,
        face_budget=settings.face_budget,
        remesh_voxel_size=settings.voxel_size if settings.sculpt_remesh else 0.0,
        origin_bottom=settings.origin_bottom,
        quad_faces=settings.quad_faces if settings.quad_remesh else 0,
    )


def start_job(context, preset: str = "") -> session.Job:
    """Resolve the image and send the request (the first one starts the worker and waits for
    its hello); raises ImageSourceError / BackendUnavailable / client.BackendError."""
    settings = context.scene.latentdreamer
    inputs, name = image_source.resolve(settings, context.screen)
    sess = worker_session(context)
    job = sess.start(
        inputs,
        name,
        job_settings(settings, preset),
        tuple(context.scene.cursor.location),
        import_options(settings),
        settings.live_preview,
    )
    status = context.window_manager.latentdreamer
    status.error = status.hint = status.stats = ""
    status.views.clear()
    session.copy_to_status(job, status)
    status.message = "Starting the backend…" if not sess.info else "Queued"
    return job


def poll_jobs(context=None) -> list[session.Job]:
    """Advance every job by the events that arrived; never blocks. Main thread only."""
    context = context or bpy.context
    sess = session.current()
    if sess is None:
        return []
    changed = sess.pump()
    wm = context.window_manager
    for job in changed:
        session.copy_to_status(job, wm.latentdreamer)
    wm.latentdreamer.worker_alive = sess.alive
    info = sess.info
    if info:
        wm.latentdreamer.worker_device = str(info.get("device") or "")
    if changed:
        for window in wm.windows:
            for area in window.screen.areas:
                if area.type == "VIEW_3D":
                    area.tag_redraw()
    return changed


class LATENTDREAMER_OT_generate(bpy.types.Operator):
    """Make a textured 3D mesh from the chosen image (Esc cancels and keeps the mesh so far)"""

    bl_idname = "latentdreamer.generate"
    bl_label = "Generate 3D from Image"
    bl_options = {"REGISTER"}  # the import pushes its own undo step when the mesh lands

    preset: bpy.props.StringProperty(
        name="Preset",
        default="",
        options={"SKIP_SAVE", "HIDDEN"},
        description="For scripts: a backend preset name that overrides the panel's (e.g. 'tiny')",
    )

    @classmethod
    def poll(cls, context):
        sess = session.current()
        return sess is None or not sess.running()

    def _start(self, context):
        try:
            return start_job(context, self.preset)
        except (image_source.ImageSourceError, RuntimeError, OSError) as exc:  # BackendError is a RuntimeError
            status = context.window_manager.latentdreamer
            status.running = False
            status.error, status.hint = str(exc), ""
            self.report({"ERROR"}, str(exc))
            return None

    def invoke(self, context, event):
        self._job = self._start(context)
        if self._job is None:
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(POLL_INTERVAL_S, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        job = self._job
        sess = session.current()
        try:
            if event.type == "ESC" and event.value == "PRESS" and sess is not None:
                sess.cancel(job)
            elif event.type == "TIMER":
                poll_jobs(context)
        except Exception as exc:  # a bug of ours must end as a report, not a stuck modal loop
            if sess is not None:
                sess.cancel(job)
            job.fail("internal", f"LatentDreamer failed: {exc!r}", "see the system console; please report this")
            session.copy_to_status(job, context.window_manager.latentdreamer)
        if not job.finished:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return self._finish(context, job)

    def execute(self, context):
        """The blocking form (`bpy.ops.latentdreamer.generate()` from a script)."""
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        while not job.finished:
            poll_jobs(context)
            time.sleep(POLL_INTERVAL_S)
        return self._finish(context, job)

    def _finish(self, context, job):
        if job.state == "error":
            self.report({"ERROR"}, job.report_text())
            return {"CANCELLED"}
        if job.state == "done" and job.object is not None:
            for obj in context.view_layer.objects:
                obj.select_set(False)
            job.object.select_set(True)
            context.view_layer.objects.active = job.object
            self.report({"INFO"}, f"Generated '{job.object.name}'")
        elif job.state == "cancelled":
            self.report({"WARNING"}, job.message)
        return {"FINISHED"}


class LATENTDREAMER_OT_cancel(bpy.types.Operator):
    """Stop the running job in the backend; the mesh so far is kept"""

    bl_idname = "latentdreamer.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        sess = session.current()
        return sess is not None and bool(sess.running())

    def execute(self, context):
        sess = session.current()
        for job in sess.running():
            sess.cancel(job)
        context.window_manager.latentdreamer.message = "Cancelling…"
        return {"FINISHED"}


class LATENTDREAMER_OT_release_backend(bpy.types.Operator):
    """End the backend process to free its (GPU) memory; the next job starts it again"""

    bl_idname = "latentdreamer.release_backend"
    bl_label = "Release Backend"

    @classmethod
    def poll(cls, context):
        return session.current() is not None

    def execute(self, context):
        sess = session.current()
        jobs = sess.running() if sess is not None else []
        session.release()  # running jobs end as "released", saying what was kept
        status = context.window_manager.latentdreamer
        for job in jobs:
            session.copy_to_status(job, status)
        status.worker_alive = False
        status.running = False
        return {"FINISHED"}


class LATENTDREAMER_OT_install_backend(bpy.types.Operator):
    """Create a private Python environment in the extension's folder and install PyTorch and the backend (with its diffusion and background-removal libraries)"""

    bl_idname = "latentdreamer.install_backend"
    bl_label = "Install Backend"

    def execute(self, context):
        prefs = preferences.addon_prefs(context)
        wheelhouse = bpy.path.abspath(prefs.wheelhouse) if prefs and prefs.wheelhouse else ""
        if not bpy.app.online_access and not wheelhouse:
            self.report(
                {"ERROR"},
                "Online access is disabled — allow it in Preferences > System > Network, "
                "or set Offline Wheels to a folder of wheels",
            )
            return {"CANCELLED"}
        if wheelhouse and not Path(wheelhouse).is_dir():
            self.report({"ERROR"}, f"Offline Wheels folder {wheelhouse} does not exist — pick the folder of wheels")
            return {"CANCELLED"}
        if preferences.runner_busy():
            self.report({"ERROR"}, "An install or download is already running; wait for it or press Stop")
            return {"CANCELLED"}
        base = preferences.user_dir()
        if base is None:
            self.report({"ERROR"}, "The extension has no user folder (install it as an extension)")
            return {"CANCELLED"}
        session.release()
        steps = backend_setup.install_plan(
            base, preferences.backend_src(), cuda=backend_setup.has_nvidia_gpu(), wheelhouse=wheelhouse
        )
        preferences.start_runner(steps)
        return {"FINISHED"}


class LATENTDREAMER_OT_download_models(bpy.types.Operator):
    """Download the model weights listed above for image → 3D (sizes and licences shown there)"""

    bl_idname = "latentdreamer.download_models"
    bl_label = "Download Models"

    text_to_image: bpy.props.BoolProperty(
        name="Text → 3D Model",
        default=False,
        options={"SKIP_SAVE"},
        description="Download only the text-to-image model (about 7.8 GB), which only Text → 3D uses",
    )

    @classmethod
    def description(cls, context, properties):
        if properties.text_to_image:
            return "Download the text-to-image model (Stable Diffusion 2.1-base, about 7.8 GB), needed only for Text → 3D"
        return (
            "Download Zero123++ v1.2 and its normal ControlNet (about 9 GB, CC-BY-NC 4.0: non-commercial) and the "
            "background-removal model (176 MB), needed for a single image → 3D"
        )

    def execute(self, context):
        if not bpy.app.online_access:
            self.report({"ERROR"}, "Online access is disabled — allow it in Preferences > System > Network")
            return {"CANCELLED"}
        if preferences.runner_busy():
            self.report({"ERROR"}, "An install or download is already running; wait for it or press Stop")
            return {"CANCELLED"}
        py = preferences.worker_python(context)
        dest = preferences.models_dir(context)
        if not py or dest is None:
            self.report({"ERROR"}, "Install the backend first (Install Backend above), or set Backend Python")
            return {"CANCELLED"}
        preferences.start_runner(backend_setup.download_plan(py, dest, text_to_image=self.text_to_image), "models-download.log")
        return {"FINISHED"}


class LATENTDREAMER_OT_check_models(bpy.types.Operator):
    """Ask the installed backend which model weights are present (no download)"""

    bl_idname = "latentdreamer.check_models"
    bl_label = "Check Models"

    def execute(self, context):
        try:
            rows = preferences.refresh_model_status(context)
        except RuntimeError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        missing = [r["name"] for r in rows if not r.get("present")]
        self.report({"INFO"}, f"missing: {', '.join(missing)}" if missing else "all models present")
        return {"FINISHED"}


class LATENTDREAMER_OT_cancel_setup(bpy.types.Operator):
    """Stop the running install or download; it can be retried later"""

    bl_idname = "latentdreamer.cancel_setup"
    bl_label = "Stop"

    def execute(self, context):
        preferences.stop_runner()
        context.window_manager.latentdreamer.setup_state = "cancelled"
        return {"FINISHED"}


CLASSES = (
    LATENTDREAMER_OT_generate,
    LATENTDREAMER_OT_cancel,
    LATENTDREAMER_OT_release_backend,
    LATENTDREAMER_OT_install_backend,
    LATENTDREAMER_OT_download_models,
    LATENTDREAMER_OT_check_models,
    LATENTDREAMER_OT_cancel_setup,
)


@bpy.app.handlers.persistent
def _on_load_pre(*_args) -> None:
    """Opening another file ends the modal operator; stop its jobs so no mesh lands in the new file."""
    sess = session.current()
    if sess is None:
        return
    for job in sess.running():
        sess.cancel(job)
        job.state, job.message = "cancelled", "Cancelled: another file was opened"
    sess.forget_finished()


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.app.handlers.load_pre.append(_on_load_pre)


def unregister() -> None:
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)
    session.release()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
