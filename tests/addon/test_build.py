"""build.py: a valid, reproducible extension zip that Blender's own installer accepts."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile

import addon_utils
import bpy
import pytest

from latentdreamer_addon import backend_setup

from addon_testing import REPO


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
    for required in (
        "blender_manifest.toml",
        "__init__.py",
        "session.py",
        "backend_src/pyproject.toml",
        "backend_src/latentdreamer/cli/main.py",
        "README.md",
    ):
        assert required in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or ".egg-info" in n]
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zipfile.ZipFile(first).infolist())


def test_bundled_backend_source_builds_a_wheel(built, tmp_path):
    """What "Install Backend" pip-installs must build from the unpacked extension alone."""
    from addon_testing import backend_python

    if backend_python() is None:
        pytest.skip("no backend Python (.venv-backend) with setuptools to build with")
    (first, _), _ = built
    zipfile.ZipFile(first).extractall(tmp_path / "ext")
    out = subprocess.run(
        [
            backend_python(),
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path / "wheels"),
            str(tmp_path / "ext" / "backend_src"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = (tmp_path / "wheels").glob("latentdreamer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "latentdreamer/worker/__main__.py" in names and "latentdreamer/cli/main.py" in names


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
        prefs_module = sys.modules[module + ".preferences"]
        assert prefs_module.backend_src() == installed / "backend_src"
        assert prefs_module.user_dir() is not None and prefs_module.user_dir().is_dir()
    finally:
        addon_utils.disable(module, default_set=True, handle_error=None)
        repos.remove(repo)
    assert not hasattr(bpy.types, "VIEW3D_PT_latentdreamer")


@pytest.fixture
def installed(built, tmp_path, clean_file):
    """The built zip installed and enabled from a temporary user repository."""
    (first, _), meta = built
    repos = bpy.context.preferences.extensions.repos
    repo = repos.new(name="LatentDreamer Test", module="ld_prefs", custom_directory=str(tmp_path / "repo"), source="USER")
    module = f"bl_ext.{repo.module}.{meta['id']}"
    bpy.ops.extensions.package_install_files(filepath=str(first), repo=repo.module, enable_on_install=True)
    prefs_module = sys.modules[module + ".preferences"]
    yield prefs_module, bpy.context.preferences.addons[module].preferences
    prefs_module.stop_runner()
    addon_utils.disable(module, default_set=True, handle_error=None)
    repos.remove(repo)


def test_install_backend_respects_online_access_and_reports_failures(installed, tmp_path):
    prefs_module, prefs = installed
    assert not bpy.app.online_access  # background tests run offline
    with pytest.raises(RuntimeError, match="Online access is disabled"):
        bpy.ops.latentdreamer.install_backend()
    with pytest.raises(RuntimeError, match="Online access is disabled"):
        bpy.ops.latentdreamer.download_models()
    # Offline install from a folder of wheels, retried over an environment left by an earlier
    # attempt (made here without pip, to keep the test fast): the plan reuses the venv in the
    # extension's user folder, and the first pip step fails with a clear, retryable error.
    venv = prefs_module.user_dir() / backend_setup.VENV_DIRNAME
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    prefs.wheelhouse = str(wheels)
    assert bpy.ops.latentdreamer.install_backend() == {"FINISHED"}
    prefs_module._runner.join(120)
    prefs_module._sync_runner()  # what the preferences' timer runs
    status = bpy.context.window_manager.latentdreamer
    assert status.setup_state == "failed"
    assert status.setup_error.startswith("Update pip failed (exit code 1)")
    log = (prefs_module.user_dir() / backend_setup.LOG_NAME).read_text()
    assert f"== Update pip: {backend_setup.venv_python(venv)} -m pip install" in log
    assert "No module named pip" in log
    assert "Create the backend environment" not in log  # the existing venv was reused
