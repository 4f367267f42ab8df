from __future__ import annotations

import subprocess
import sys

import addon_utils
import bpy
import pytest

from addon_testing import REPO

PACKAGE = "latentdreamer_addon"


def enabled() -> bool:
    return PACKAGE in bpy.context.preferences.addons


def test_register_unregister_twice(clean_file):
    for _ in range(2):
        addon_utils.enable(PACKAGE, default_set=True, handle_error=None)
        assert enabled()
        assert hasattr(bpy.types, "VIEW3D_PT_latentdreamer")
        assert hasattr(bpy.types, "VIEW3D_PT_latentdreamer_backend")
        for op in ("generate", "cancel", "release_backend", "install_backend", "download_models"):
            assert hasattr(bpy.ops.latentdreamer, op)
            assert getattr(bpy.ops.latentdreamer, op).get_rna_type().identifier.startswith("LATENTDREAMER_OT_")
        assert bpy.context.scene.latentdreamer.preset == "standard"
        assert bpy.context.window_manager.latentdreamer.running is False
        prefs = bpy.context.preferences.addons[PACKAGE].preferences
        assert prefs.bl_rna.identifier == "LatentDreamerPreferences"
        addon_utils.disable(PACKAGE, default_set=True, handle_error=None)
        assert not enabled()
        assert not hasattr(bpy.types, "VIEW3D_PT_latentdreamer")
        assert not hasattr(bpy.types.Scene, "latentdreamer")


def test_settings_are_saved_but_status_is_not(clean_file, tmp_path):
    """Scene settings travel with the .blend; the run state on the window manager does not."""
    addon_utils.enable(PACKAGE, default_set=True, handle_error=None)
    try:
        bpy.context.scene.latentdreamer.filepath = "//scene-marker-7f3a.png"
        bpy.context.window_manager.latentdreamer.message = "status-marker-9c1e"
        path = tmp_path / "s.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=False)
        data = path.read_bytes()
        assert b"scene-marker-7f3a" in data
        assert b"status-marker-9c1e" not in data
    finally:
        addon_utils.disable(PACKAGE, default_set=True, handle_error=None)


def test_generate_without_image_reports_instead_of_raising(clean_file):
    addon_utils.enable(PACKAGE, default_set=True, handle_error=None)
    try:
        settings = bpy.context.scene.latentdreamer
        settings.image_source = "FILE"
        settings.filepath = "/nonexistent/picture.png"
        # From a script, Blender turns an operator's error report into a RuntimeError
        # carrying the report text; the message must be ours, not a traceback.
        with pytest.raises(RuntimeError, match="image file not found: /nonexistent/picture.png"):
            bpy.ops.latentdreamer.generate("EXEC_DEFAULT")
        assert "not found" in bpy.context.window_manager.latentdreamer.error
    finally:
        addon_utils.disable(PACKAGE, default_set=True, handle_error=None)


def test_package_imports_without_bpy():
    """The client side must stay usable from plain Python (no bpy at import time)."""
    code = "import sys; sys.modules['bpy'] = None; import latentdreamer_addon; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
