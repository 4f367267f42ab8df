"""Real tiny-preset generations through the operator, against the real worker and pipeline.

Input: six views of a shaded sphere with their normal maps, as the two 640x960 grid images
of docs/design.md §4 (the user's-own-views path, which needs no diffusion weights). These tests
skip, saying why, while the worker reports that it has no pipeline
(`hello.capabilities.pipeline` false); they run as soon as it has one.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import bpy
import numpy as np
import pytest

from latentdreamer_addon import operators, session

from addon_testing import backend_python
from test_operators import addon, run_until_finished  # noqa: F401  (addon is a fixture)

TILE = 320
RADIUS = 0.35
DISTANCE = 0.5 / math.tan(math.radians(15))

pytestmark = pytest.mark.skipif(backend_python() is None, reason="no backend Python (.venv-backend) to run the worker")


def sphere_grids(folder: Path) -> tuple[Path, Path]:
    """(views grid, normals grid) PNGs: an orange shaded sphere on grey 127, six times.

    A sphere looks the same from every camera, so one tile serves all six; the normal map
    uses the camera-space encoding (x right, y up, z toward the camera; grey background).
    """
    rho = math.tan(math.asin(RADIUS / DISTANCE)) / math.tan(math.radians(15))  # image radius / half size
    c = (np.arange(TILE) + 0.5) / TILE * 2 - 1
    x, y = np.meshgrid(c, c)  # rows bottom-up, as Blender stores pixels: y grows upward
    inside = x**2 + y**2 < rho**2
    nx, ny = x / rho, y / rho
    nz = np.sqrt(np.clip(1 - nx**2 - ny**2, 0, 1))
    normal = np.where(inside[..., None], np.stack([nx, ny, nz], -1), 0.0)
    shade = np.clip(0.3 + 0.7 * (normal @ np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])), 0, 1)
    rgb = np.where(inside[..., None], shade[..., None] * np.array([1.0, 0.55, 0.1]), 127 / 255)
    paths = []
    for name, tile in (("views", rgb), ("normals", (normal + 1) / 2)):
        grid = np.tile(tile, (3, 2, 1))
        rgba = np.concatenate([grid, np.ones(grid.shape[:2] + (1,))], -1).astype(np.float32)
        img = bpy.data.images.new(name, 2 * TILE, 3 * TILE)
        img.pixels.foreach_set(rgba.ravel())
        path = folder / f"sphere_{name}.png"
        img.filepath_raw = str(path)
        img.file_format = "PNG"
        img.save()
        bpy.data.images.remove(img)
        paths.append(path)
    return paths[0], paths[1]


def test_sphere_grids_are_valid_pipeline_input(tmp_path, clean_file):
    """The input the generation tests send passes the backend's own input validation."""
    views, normals = sphere_grids(tmp_path)
    code = (
        "import sys; from latentdreamer.priors.user_views import load_views; "
        "v = load_views(grid=sys.argv[1], normals_grid=sys.argv[2]); "
        "print(v.rgb.shape, v.normals.shape, round(float(v.alpha.mean()), 3))"
    )
    out = subprocess.run([backend_python(), "-c", code, str(views), str(normals)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    mean_alpha = float(out.stdout.split()[-1])
    assert "(6, 320, 320, 3)" in out.stdout
    expected = math.pi * (math.tan(math.asin(RADIUS / DISTANCE)) / math.tan(math.radians(15)) / 2) ** 2
    assert abs(mean_alpha - expected) < 0.03


@pytest.fixture
def real_worker(addon, tmp_path):  # noqa: F811  (the imported fixture, requested by name)
    """The add-on with the real worker (see test_operators.addon: teardown checks for leftovers)."""
    hello = operators.worker_session().ensure_client().start()
    if not hello["capabilities"].get("pipeline"):
        pytest.skip("pending: the worker has no generation pipeline yet (hello.capabilities.pipeline is false)")
    views, normals = sphere_grids(tmp_path)
    settings = bpy.context.scene.latentdreamer
    settings.image_source = "VIEWS"
    settings.views_grid, settings.normals_grid = str(views), str(normals)
    return settings


def test_tiny_generation_to_completion(real_worker):
    assert bpy.ops.latentdreamer.generate("INVOKE_DEFAULT", preset="tiny") == {"FINISHED"}
    status = bpy.context.window_manager.latentdreamer
    assert not status.error, status.error + " " + status.hint
    obj = bpy.data.objects[status.object_name]
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    r = np.linalg.norm(co.reshape(-1, 3) - co.reshape(-1, 3).mean(0), axis=1)
    assert len(r) > 50
    assert r.std() / r.mean() < 0.2  # a sphere came back, not a random blob
    assert obj.data.color_attributes.active_color is not None
    assert status.stats
    # Sculpt-ready as imported: closed, manifold, consistently wound, normals outward.
    import bmesh

    bm = bmesh.new()
    bm.from_mesh(obj.data)
    try:
        assert all(e.is_manifold and e.is_contiguous for e in bm.edges)
        assert bm.calc_volume(signed=True) > 0
    finally:
        bm.free()


def test_tiny_generation_cancelled_midway_keeps_a_mesh(real_worker):
    operators.start_job(bpy.context, "tiny")
    had_preview = None

    def tick(status):
        nonlocal had_preview
        if had_preview is None and status.progress > 0.3:
            had_preview = bool(status.object_name)
            bpy.ops.latentdreamer.cancel()

    run_until_finished(timeout=600, on_tick=tick)
    status = bpy.context.window_manager.latentdreamer
    job = next(iter(session.current().jobs.values()))
    assert had_preview is not None, "the job ended before it was 30 % done"
    assert job.state == "cancelled", (job.state, job.error, job.hint)
    assert status.message.startswith("Cancelled while ") and "The mesh so far was kept as" in status.message
    if had_preview:
        assert job.object is not None and len(job.object.data.polygons) > 0  # the best mesh so far is kept
