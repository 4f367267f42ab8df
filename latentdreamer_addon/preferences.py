"""Add-on preferences: where the backend lives, installing it, downloading its models.

The install and download run `backend_setup.StepRunner` in a thread; a timer copies its
snapshot into the window manager's status on the main thread, so the preferences show
progress without Blender data being touched from the thread.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from . import backend_setup

_runner: backend_setup.StepRunner | None = None
_model_rows: list[dict] | None = None  # the backend's last `weights status` answer
_POLL_S = 0.25


def addon_prefs(context=None) -> LatentDreamerPreferences | None:
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon else None


def user_dir() -> Path | None:
    """The extension's own writable folder; None when running as a plain add-on in tests."""
    try:
        return Path(bpy.utils.extension_path_user(__package__, create=True))
    except (ValueError, RuntimeError):
        return None


def backend_src() -> Path:
    """The backend source bundled in the extension (build.py puts it beside this file);
    in a development checkout it is the repository's `backend/`."""
    here = Path(__file__).resolve().parent
    bundled = here / backend_setup.BACKEND_SRC_DIRNAME
    return bundled if bundled.is_dir() else here.parent / "backend"


def worker_python(context=None) -> str | None:
    prefs = addon_prefs(context)
    configured = bpy.path.abspath(prefs.backend_python) if prefs and prefs.backend_python else ""
    return backend_setup.worker_python(configured, user_dir())


def models_dir(context=None) -> Path | None:
    prefs = addon_prefs(context)
    if prefs and prefs.models_dir:
        return Path(bpy.path.abspath(prefs.models_dir))
    base = user_dir()
    return base / "models" if base else None


def runner_busy() -> bool:
    return _runner is not None and _runner.snapshot().state == "running"


def start_runner(steps: list[backend_setup.Step], log_name: str = backend_setup.LOG_NAME) -> None:
    global _runner
    base = user_dir() or Path(bpy.app.tempdir)
    _runner = backend_setup.StepRunner(steps, base / log_name)
    _runner.start()
    if not bpy.app.timers.is_registered(_sync_runner):
        bpy.app.timers.register(_sync_runner, first_interval=_POLL_S)


def stop_runner() -> None:
    global _runner
    if _runner is not None:
        _runner.cancel()
        _runner.join(5.0)
    _runner = None
    if bpy.app.timers.is_registered(_sync_runner):
        bpy.app.timers.unregister(_sync_runner)


def _sync_runner() -> float | None:
    """Timer: copy the runner's snapshot into the window-manager status (main thread)."""
    if _runner is None:
        return None
    snap = _runner.snapshot()
    status = bpy.context.window_manager.latentdreamer
    status.setup_state = snap.state
    status.setup_label = snap.label
    status.setup_progress = snap.fraction
    status.setup_error = snap.error
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()
    return _POLL_S if snap.state == "running" else None


def refresh_model_status(context=None) -> list[dict]:
    """Ask the installed backend which models are present (operator "Check Models")."""
    global _model_rows
    py = worker_python(context)
    if not py:
        raise RuntimeError("install the backend first")
    _model_rows = backend_setup.model_status(py, models_dir(context))
    return _model_rows


def _size_text(model: dict) -> str:
    """The real size once present, else the download estimate, in units a person reads."""
    size = model.get("size_bytes") or 0
    if model.get("present") and size:
        return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"
    gb = model.get("approx_download_gb")
    if not isinstance(gb, (int, float)):
        return "size unknown"
    return f"about {gb:g} GB" if gb >= 1 else f"about {gb * 1000:.0f} MB"


def runner_tail() -> list[str]:
    return _runner.snapshot().tail if _runner else []


class LatentDreamerPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    backend_python: StringProperty(
        name="Backend Python",
        subtype="FILE_PATH",
        description="A Python with the latentdreamer backend installed; empty: the one 'Install Backend' made",
    )
    start_early: BoolProperty(
        name="Start Backend Early",
        default=True,
        description="Start the backend when the LatentDreamer panel is shown, so it has loaded and compiled its "
        "models by the time you click Generate (off: it starts at the first Generate)",
    )
    worker_args: StringProperty(
        name="Worker Options",
        description="Extra command-line options for the worker, e.g. --jobs-dir /path --log-level DEBUG",
    )
    models_dir: StringProperty(
        name="Models Folder",
        subtype="DIR_PATH",
        description="Where model weights live; empty: the extension's user folder",
    )
    wheelhouse: StringProperty(
        name="Offline Wheels",
        subtype="DIR_PATH",
        description="Install from this folder of wheels instead of the internet: torch, setuptools and every "
        "dependency of the backend with its diffusion and segmentation extras, for Blender's Python",
    )

    def draw(self, context):
        layout = self.layout
        status = context.window_manager.latentdreamer
        col = layout.column()
        col.prop(self, "backend_python")
        col.prop(self, "worker_args")
        col.prop(self, "start_early")
        py = worker_python(context)
        col.label(text=f"Worker Python: {py}" if py else "No backend yet: install it below", icon="CONSOLE")

        box = layout.box()
        box.label(text="Backend environment (private; Blender's Python is not changed)")
        gpu = (
            "NVIDIA GPU found: CUDA build of PyTorch" if backend_setup.has_nvidia_gpu() else "No NVIDIA GPU: CPU build of PyTorch"
        )
        box.label(text=gpu, icon="INFO")
        box.prop(self, "wheelhouse")
        if not bpy.app.online_access and not self.wheelhouse:
            box.label(text="Online access is off (Preferences > System > Network); set Offline Wheels or allow it", icon="ERROR")
        row = box.row()
        row.enabled = not runner_busy()
        row.operator("latentdreamer.install_backend", icon="IMPORT")
        row.operator("latentdreamer.download_models", icon="URL")
        row.operator("latentdreamer.download_models", text="Download Text → 3D Model", icon="URL").text_to_image = True
        if status.setup_state == "running":
            box.progress(factor=status.setup_progress, type="BAR", text=status.setup_label)
            box.operator("latentdreamer.cancel_setup", icon="CANCEL")
        elif status.setup_state == "failed":
            box.label(text=status.setup_error, icon="ERROR")
        elif status.setup_state == "done":
            box.label(text="Done", icon="CHECKMARK")
        tail = runner_tail()
        if tail:
            log = box.column(align=True)
            log.scale_y = 0.7
            for line in tail[-6:]:
                log.label(text=line[:120])

        box = layout.box()
        box.label(text="Models (downloaded only when you click Download Models)")
        box.prop(self, "models_dir")
        row = box.row()
        row.enabled = not runner_busy()
        row.operator("latentdreamer.check_models", icon="FILE_REFRESH")
        if _model_rows is not None:
            for model in _model_rows:
                row = box.row()
                text_only = model.get("needed_for") == "text"
                label = f"{model['name']} (only for Text → 3D)" if text_only else model["name"]
                row.label(text=label, icon="CHECKMARK" if model.get("present") else "ERROR")
                row.label(text=_size_text(model))
                row.label(text=str(model.get("licence", "")))
        else:
            for model in backend_setup.MODELS:
                row = box.row()
                row.label(text=model.name)
                row.label(text=model.size)
                row.label(text=model.licence)
        box.label(text="Zero123++ weights are CC-BY-NC 4.0: non-commercial use only.", icon="ERROR")


CLASSES = (LatentDreamerPreferences,)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    stop_runner()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
