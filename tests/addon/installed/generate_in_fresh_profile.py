"""Run inside Blender's Python (bpy as a module) in a clean environment: the artist's path.

Installs the built extension zip with Blender's own operator into a fresh user profile,
enables it, points Backend Python at a working backend, then generates twice at the `tiny`
preset from six views the backend made: once through `bpy.ops.latentdreamer.generate()`
and once through the batch API exactly as the README shows. Every check failing raises;
the last stdout line is `RESULT <json>` with what the caller asserts on.

Usage: python generate_in_fresh_profile.py ZIP BACKEND_PYTHON VIEWS_DIR OUT_DIR
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ZIP, BACKEND_PYTHON, VIEWS_DIR, OUT_DIR = (Path(a) for a in sys.argv[1:5])
RGB = [str(VIEWS_DIR / f"rgb_{k}.png") for k in range(6)]
NORMALS = [str(VIEWS_DIR / f"normal_{k}.png") for k in range(6)]


from fresh_profile import assert_source_tree_hidden, fail, mesh_report  # noqa: E402  (copied beside this script)

assert_source_tree_hidden()

import bpy  # noqa: E402


def grid_image(files: list[str], target: Path) -> str:
    """The six files as one grid: two columns by three rows, view k at row k // 2, column k % 2."""
    import numpy as np

    tiles = []
    for f in files:
        img = bpy.data.images.load(f)
        w, h = img.size
        px = np.empty(w * h * 4, np.float32)
        img.pixels.foreach_get(px)
        tiles.append(px.reshape(h, w, 4)[::-1])  # Blender stores rows bottom-up
        bpy.data.images.remove(img)
    rows = [np.concatenate(tiles[r * 2 : r * 2 + 2], axis=1) for r in range(3)]
    grid = np.concatenate(rows, axis=0)[::-1]
    img = bpy.data.images.new(target.stem, grid.shape[1], grid.shape[0], alpha=True)
    img.pixels.foreach_set(grid.ravel())
    img.filepath_raw, img.file_format = str(target), "PNG"
    img.save()
    bpy.data.images.remove(img)
    return str(target)


def main() -> dict:
    t0 = time.monotonic()
    repos = {r.module: r for r in bpy.context.preferences.extensions.repos}
    if "user_default" not in repos:
        fail(f"fresh profile has no user_default repository: {sorted(repos)}")
    result = bpy.ops.extensions.package_install_files(filepath=str(ZIP), repo="user_default", enable_on_install=True)
    if result != {"FINISHED"}:
        fail(f"install operator returned {result}")
    module = "bl_ext.user_default.latentdreamer"
    if module not in bpy.context.preferences.addons:
        fail(f"{module} not enabled after install: {list(bpy.context.preferences.addons.keys())}")
    prefs = bpy.context.preferences.addons[module].preferences
    prefs.backend_python = str(BACKEND_PYTHON)

    # The panel's path: Six Views from six files, tiny preset, blocking operator.
    scene = bpy.context.scene
    scene.cursor.location = (1.0, -2.0, 0.5)
    settings = scene.latentdreamer
    settings.image_source = "VIEWS"
    settings.views_layout = "FILES"
    settings.views_folder = str(VIEWS_DIR)
    t1 = time.monotonic()
    result = bpy.ops.latentdreamer.generate(preset="tiny")  # the panel does not offer the test preset
    t2 = time.monotonic()
    status = bpy.context.window_manager.latentdreamer
    if result != {"FINISHED"}:
        fail(f"generate returned {result}: {status.error} {status.hint}")
    obj = bpy.context.view_layer.objects.active
    if obj is None or obj.type != "MESH":
        fail(f"no active mesh after generate (status: {status.message!r} {status.error!r})")
    operator_report = mesh_report(obj)

    # The README's batch path, on the same warm worker.
    from bl_ext.user_default.latentdreamer import batch

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    views_grid = grid_image(RGB, OUT_DIR / "views_grid.png")
    normals_grid = grid_image(NORMALS, OUT_DIR / "normals_grid.png")
    objs = batch.generate_images(
        [{"views": {"grid": views_grid}, "normals": {"grid": normals_grid}, "name": "from_batch"}],
        preset="tiny",
        save_blend_dir=str(OUT_DIR),
    )
    t3 = time.monotonic()
    if len(objs) != 1:
        fail(f"batch returned {objs}")
    batch_report = mesh_report(objs[0])
    blend = OUT_DIR / f"{objs[0].name}.blend"
    return {
        "blender": bpy.app.version_string,
        "operator": operator_report,
        "batch": batch_report,
        "batch_blend": blend.is_file(),
        "cursor": list(scene.cursor.location),
        "sys_path_has_repo": any("latentdreamer_addon" in str(p) for p in sys.path),
        "times_s": {"install": round(t1 - t0, 2), "operator_generate": round(t2 - t1, 2), "batch_generate": round(t3 - t2, 2)},
    }


print("RESULT " + json.dumps(main()), flush=True)
