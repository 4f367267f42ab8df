"""Run inside Blender's Python (bpy as a module) in a clean environment: the set-up an artist does.

Installs the built extension zip with Blender's own operator into a fresh user profile and
enables it; then, as the preferences' buttons do (each operator, then the runner thread
joined and the preferences' timer callback run, as Blender's timer would):

- with `--wheels DIR`: sets Offline Wheels, runs **Install Backend** (a private venv in the
  extension's user folder: torch, the backend with its diffusion and segmentation extras);
  else `--backend-python PY` is set as Backend Python;
- **Check Models**;
- with `--views DIR`: generates from six view files at the `tiny` preset through the worker
  that set-up gives (the private venv after Install Backend);
- with `--models DIR --photo FILE`: sets Models Folder, allows online access (the hub is
  whatever HF_ENDPOINT names), runs **Download Models**, **Check Models** again, then
  generates from the photo (Source: File) at the `tiny` preset.

Every failed check raises; the last stdout line is `RESULT <json>` for the caller.

Usage: python setup_in_fresh_profile.py ZIP [--wheels DIR | --backend-python PY] [--views DIR]
       [--models DIR --photo FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("zip", type=Path)
parser.add_argument("--wheels", type=Path)
parser.add_argument("--backend-python")
parser.add_argument("--views", type=Path)
parser.add_argument("--models", type=Path)
parser.add_argument("--photo", type=Path)
ARGS = parser.parse_args()
MODULE = "bl_ext.user_default.latentdreamer"


from fresh_profile import assert_source_tree_hidden, fail, mesh_report  # noqa: E402  (copied beside this script)

assert_source_tree_hidden()

import importlib  # noqa: E402

import bpy  # noqa: E402


def run_setup_operator(op, prefs_module, **kwargs) -> dict:
    """Click a set-up button: the operator starts the runner thread; wait for it and let the
    preferences' timer callback copy its state, as Blender's timer would."""
    t0 = time.monotonic()
    result = op(**kwargs)
    if result != {"FINISHED"}:
        fail(f"{op.idname_py()} returned {result}")
    runner = prefs_module._runner
    runner.join(900)
    prefs_module._sync_runner()
    status = bpy.context.window_manager.latentdreamer
    snap = runner.snapshot()
    if status.setup_state != "done":
        fail(f"{op.idname_py()} ended {status.setup_state!r}: {status.setup_error}\n" + "\n".join(snap.tail))
    return {"seconds": round(time.monotonic() - t0, 1), "steps": snap.total, "last_lines": snap.tail[-3:]}


def check_models() -> dict[str, bool]:
    result = bpy.ops.latentdreamer.check_models()
    if result != {"FINISHED"}:
        fail(f"check_models returned {result}")
    prefs_module = importlib.import_module(MODULE + ".preferences")
    return {row["name"]: bool(row["present"]) for row in prefs_module._model_rows}


def generate(**settings_values) -> dict:
    settings = bpy.context.scene.latentdreamer
    for key, value in settings_values.items():
        setattr(settings, key, value)
    t0 = time.monotonic()
    result = bpy.ops.latentdreamer.generate(preset="tiny")
    status = bpy.context.window_manager.latentdreamer
    if result != {"FINISHED"}:
        fail(f"generate returned {result}: {status.error} {status.hint}")
    obj = bpy.context.view_layer.objects.active
    if obj is None or obj.type != "MESH":
        fail(f"no active mesh after generate ({status.message!r} {status.error!r})")
    # The prior's notes (background-removal method, ...) lie beside the views the panel shows.
    notes = [Path(v.path).parent / "notes.txt" for v in status.views]
    notes_text = notes[0].read_text() if notes and notes[0].is_file() else None
    return mesh_report(obj) | {"seconds": round(time.monotonic() - t0, 1), "notes": notes_text}


def main() -> dict:
    report: dict = {"blender": bpy.app.version_string}
    result = bpy.ops.extensions.package_install_files(filepath=str(ARGS.zip), repo="user_default", enable_on_install=True)
    if result != {"FINISHED"} or MODULE not in bpy.context.preferences.addons:
        fail(f"install/enable failed: {result}")
    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs_module = importlib.import_module(MODULE + ".preferences")
    if ARGS.wheels:
        report["online_access"] = bpy.app.online_access  # False in background mode: the wheels are the way
        prefs.wheelhouse = str(ARGS.wheels)
        report["install"] = run_setup_operator(bpy.ops.latentdreamer.install_backend, prefs_module)
        python = prefs_module.worker_python()
        user_dir = prefs_module.user_dir()
        if not python or user_dir is None or not Path(python).is_relative_to(user_dir):
            fail(f"the worker Python {python} is not the private environment in {user_dir}")
        report["worker_python"] = python
    else:
        prefs.backend_python = ARGS.backend_python
    report["models_before"] = check_models()
    if ARGS.views:
        report["views"] = generate(image_source="VIEWS", views_layout="FILES", views_folder=str(ARGS.views))
    if ARGS.models:
        prefs.models_dir = str(ARGS.models)
        bpy.context.preferences.system.use_online_access = True  # "Allow Online Access", as the user would
        report["download"] = run_setup_operator(bpy.ops.latentdreamer.download_models, prefs_module)
        report["models_after"] = check_models()
        report["photo"] = generate(image_source="FILE", filepath=str(ARGS.photo))
    return report


print("RESULT " + json.dumps(main()), flush=True)
