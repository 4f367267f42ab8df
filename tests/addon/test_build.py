"""build.py: a valid, reproducible extension zip that Blender's own installer accepts."""

from __future__ import annotations

import importlib.util
import json
import zipfile

import addon_utils
import bpy
import pytest

from conftest import REPO


def load_build():
    spec = importlib.util.spec_from_file_location("ld_build", REPO / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build twice into two folders (validated by Blender's validator and indexed)."""
    build = load_build()
    if build.find_blender_ext() is None:
        pytest.skip("Blender's blender_ext.py not found in .venv-blender")
    dists = [tmp_path_factory.mktemp(f"dist{i}") for i in range(2)]
    for dist in dists:
        assert build.main(["--dist", str(dist)]) == 0  # raises SystemExit if validation fails
    meta = build.manifest()
    return [d / f"{meta['id']}-{meta['version']}.zip" for d in dists], meta


def test_zip_is_reproducible_and_laid_out_for_blender(built):
    (first, second), meta = built
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert names == sorted(names)
    for required in ("blender_manifest.toml", "__init__.py", "session.py", "backend_src/pyproject.toml",
                     "backend_src/latentdreamer/cli.py", "README.md"):
        assert required in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or ".egg-info" in n]
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zipfile.ZipFile(first).infolist())


def test_repository_index_lists_the_package(built):
    (first, _), meta = built
    index = json.loads((first.parent / "index.json").read_text())
    (entry,) = [e for e in index["data"] if e["id"] == meta["id"]]
    assert entry["version"] == meta["version"]
    assert entry["archive_size"] == first.stat().st_size
    assert (first.parent / "index.html").is_file()


def test_blender_installs_and_enables_the_zip(built, tmp_path, clean_file):
    (first, _), meta = built
    repos = bpy.context.preferences.extensions.repos
    repo = repos.new(name="LatentDreamer Test", module="ld_test", custom_directory=str(tmp_path / "repo"), source="USER")
    module = f"bl_ext.{repo.module}.{meta['id']}"
    try:
        result = bpy.ops.extensions.package_install_files(filepath=str(first), repo=repo.module, enable_on_install=True)
        assert result == {"FINISHED"}
        assert module in bpy.context.preferences.addons
        assert hasattr(bpy.types, "VIEW3D_PT_latentdreamer")
        installed = tmp_path / "repo" / meta["id"]
        assert (installed / "blender_manifest.toml").is_file()
        # The bundled backend source is where the preferences look for it.
        import sys

        prefs_module = sys.modules[module + ".preferences"]
        assert prefs_module.backend_src() == installed / "backend_src"
        assert prefs_module.user_dir() is not None and prefs_module.user_dir().is_dir()
    finally:
        addon_utils.disable(module, default_set=True, handle_error=None)
        repos.remove(repo)
    assert not hasattr(bpy.types, "VIEW3D_PT_latentdreamer")
