"""The generate/cancel/release operators against a REAL worker process.

In background mode Blender runs an invoked modal operator to the end, feeding it its timer
events, so `generate('INVOKE_DEFAULT')` exercises the real UI path (timer -> modal ->
`operators.poll_jobs`). Where a test must act while a job runs (cancel), it starts the job
with `operators.start_job` (what `invoke` calls) and drives `operators.poll_jobs` itself.

Two kinds of worker run here:
- the worker with its real pipeline: hand-shake, status, bad input, single-image requests;
- the worker with the worker tests' stand-in pipeline (`tests/backend/worker/fake_pipeline.py`,
  loaded with `--pipeline`): real protocol, real files (views PNGs, preview and result npz),
  real cancellation, so the whole event flow of the add-on is exercised in seconds. The real
  tiny-preset generation tests are in test_generation.py and run once the pipeline can.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import addon_utils
import bpy
import pytest

from latentdreamer_addon import operators, session

from addon_testing import REPO, backend_python

PACKAGE = "latentdreamer_addon"
FAKE_DIR = REPO / "tests" / "backend" / "worker"

pytestmark = pytest.mark.skipif(backend_python() is None, reason="no backend Python (.venv-backend) to run the worker")


@pytest.fixture
def addon(clean_file, monkeypatch):
    addon_utils.enable(PACKAGE, default_set=True, handle_error=None)
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.backend_python = backend_python()
    prefs.worker_args = "--log-file ''"
    yield prefs
    session.release()
    addon_utils.disable(PACKAGE, default_set=True, handle_error=None)
    # No worker, timer or reader thread survives a test.
    assert session.current() is None
    leftovers = [t.name for t in threading.enumerate() if t.name.startswith("latentdreamer")]
    assert not leftovers, leftovers


@pytest.fixture
def fake_pipeline(addon, monkeypatch):
    if not (FAKE_DIR / "fake_pipeline.py").is_file():
        pytest.skip("the worker's stand-in pipeline (tests/backend/worker/fake_pipeline.py) is missing")
    monkeypatch.setenv("PYTHONPATH", str(FAKE_DIR))

    def use(name: str, step_s: float = 0.02) -> None:
        monkeypatch.setenv("FAKE_STEP_S", str(step_s))
        addon.worker_args = f"--log-file '' --no-probe --pipeline fake_pipeline:{name}"

    return use


def input_image(tmp_path: Path) -> Path:
    """A small real PNG written by Blender (a red square on white)."""
    img = bpy.data.images.new("chair", 32, 32, alpha=True)
    px = [1.0] * (32 * 32 * 4)
    for y in range(8, 24):
        for x in range(8, 24):
            px[(y * 32 + x) * 4 + 1] = px[(y * 32 + x) * 4 + 2] = 0.0
    img.pixels.foreach_set(px)
    path = tmp_path / "chair.png"
    img.filepath_raw = str(path)
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)
    return path


def run_until_finished(timeout: float = 60.0, on_tick=None) -> None:
    status = bpy.context.window_manager.latentdreamer
    deadline = time.monotonic() + timeout
    while status.running:
        assert time.monotonic() < deadline, f"job did not finish: {status.stage} {status.message}"
        operators.poll_jobs()
        if on_tick is not None:
            on_tick(status)
        time.sleep(0.02)


def choose(path: Path) -> None:
    settings = bpy.context.scene.latentdreamer
    settings.image_source = "FILE"
    settings.filepath = str(path)


def start(path: Path) -> None:
    """Start a job the way `invoke` does, for tests that drive the polling themselves."""
    choose(path)
    operators.start_job(bpy.context, "tiny")
    assert bpy.context.window_manager.latentdreamer.running


def test_worker_hello_status_and_release(addon):
    sess = operators.worker_session()
    hello = sess.ensure_client().start()
    assert hello["protocol"] == 1
    assert sess.alive and sess.info["capabilities"]["presets"] == ["tiny", "draft", "standard", "high"]
    operators.poll_jobs()
    assert bpy.context.window_manager.latentdreamer.worker_alive
    pid = sess.client.pid
    assert bpy.ops.latentdreamer.release_backend() == {"FINISHED"}
    assert session.current() is None
    assert not bpy.context.window_manager.latentdreamer.worker_alive
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


def test_bad_image_gives_the_workers_message_and_hint(addon, tmp_path):
    bad = tmp_path / "not_a_picture.png"
    bad.write_text("this is text, not a PNG")
    choose(bad)
    # The modal operator reports the worker's error; from a script Blender raises it as a
    # RuntimeError carrying the report's text (our message and hint, not a traceback).
    with pytest.raises(RuntimeError, match="not an image the worker can read .* — use PNG or JPEG"):
        bpy.ops.latentdreamer.generate("INVOKE_DEFAULT", preset="tiny")
    status = bpy.context.window_manager.latentdreamer
    assert "not an image" in status.error
    assert status.hint  # the worker's hint is shown with the error
    assert not status.stats
    job = next(iter(session.current().jobs.values()))
    assert job.state == "error" and job.error_code == "not_an_image"
    assert status.error in job.report_text() and status.hint in job.report_text()
    assert not [o for o in bpy.data.objects if o.type == "MESH"]


def test_generation_event_flow_imports_views_previews_and_result(fake_pipeline, tmp_path):
    fake_pipeline("slow", 0.02)
    bpy.context.scene.cursor.location = (0.0, 0.0, 1.0)
    bpy.context.scene.latentdreamer.live_preview = True
    choose(input_image(tmp_path))
    seen = {"stages": set(), "preview": False}
    real_poll = operators.poll_jobs

    def watching_poll(context=None):
        changed = real_poll(context)
        status = bpy.context.window_manager.latentdreamer
        seen["stages"].add(status.stage)
        seen["preview"] |= bool(status.object_name) and status.running
        return changed

    operators.poll_jobs = watching_poll
    try:
        assert bpy.ops.latentdreamer.generate("INVOKE_DEFAULT", preset="tiny") == {"FINISHED"}
    finally:
        operators.poll_jobs = real_poll
    status = bpy.context.window_manager.latentdreamer
    assert not status.error, status.error + status.hint
    assert {"coarse", "refine", "texture"} <= seen["stages"]
    assert seen["preview"]  # the object existed while the job ran (live preview)
    assert len(status.views) == 6 and all(Path(v.path).is_file() for v in status.views)
    obj = bpy.data.objects[status.object_name]
    assert obj.name == "chair"
    assert len(obj.data.vertices) == 4 and len(obj.data.polygons) == 4
    assert obj.data.color_attributes.active_color is not None
    assert tuple(obj.location) == pytest.approx((0.0, 0.0, 1.0))
    assert status.stats.startswith("vertices: 4, faces: 4, preset: tiny")
    assert len([o for o in bpy.data.objects if o.type == "MESH"]) == 1


def test_cancel_midway_keeps_the_best_mesh(fake_pipeline, tmp_path):
    fake_pipeline("slow", 0.15)
    start(input_image(tmp_path))
    cancelled = {"sent": False}

    def tick(status):
        if status.object_name and not cancelled["sent"]:
            assert bpy.ops.latentdreamer.cancel() == {"FINISHED"}
            cancelled["sent"] = True

    run_until_finished(on_tick=tick)
    status = bpy.context.window_manager.latentdreamer
    assert cancelled["sent"]
    job = next(iter(session.current().jobs.values()))
    assert job.state == "cancelled", (job.error, job.hint)
    assert status.message == f"Cancelled while refining details. The mesh so far was kept as '{status.object_name}'."
    assert status.progress < 1.0
    obj = bpy.data.objects[status.object_name]
    assert len(obj.data.polygons) == 4  # the preview mesh at the time of the cancel was kept


def test_worker_crash_becomes_a_report_and_the_next_job_restarts_it(fake_pipeline, tmp_path):
    fake_pipeline("hard_exit")
    choose(input_image(tmp_path))
    with pytest.raises(RuntimeError, match=r"The backend stopped unexpectedly \(exit code 3\)\. Nothing was kept"):
        bpy.ops.latentdreamer.generate("INVOKE_DEFAULT", preset="tiny")
    status = bpy.context.window_manager.latentdreamer
    assert status.error.startswith("The backend stopped unexpectedly (exit code 3)")
    assert "Generate again" in status.hint
    fake_pipeline("slow")  # new worker options: the session restarts the worker
    assert bpy.ops.latentdreamer.generate("INVOKE_DEFAULT", preset="tiny") == {"FINISHED"}
    assert not status.error and bpy.data.objects.get(status.object_name) is not None


def test_check_models_asks_the_configured_backend(addon, tmp_path):
    from latentdreamer_addon import preferences

    addon.models_dir = str(tmp_path / "models")
    assert bpy.ops.latentdreamer.check_models() == {"FINISHED"}
    assert {r["name"] for r in preferences._model_rows} >= {"zero123plus", "normal-controlnet"}
    assert not any(r["present"] for r in preferences._model_rows)
    # The worker is told the same folder.
    assert operators.worker_session().env == {"LATENTDREAMER_MODELS": str(tmp_path / "models")}


def test_single_image_without_weights_points_to_the_download_button(addon, tmp_path):
    addon.models_dir = str(tmp_path / "no-models")
    choose(input_image(tmp_path))
    hello = operators.worker_session().ensure_client().start()
    if "image" not in hello["capabilities"].get("inputs", []):
        pytest.skip("this worker does not take single images yet")
    if any(hello.get("weights", {}).get(name, {}).get("present") for name in ("zero123plus", "normal-controlnet")):
        pytest.skip("prior weights are installed here")
    with pytest.raises(RuntimeError, match="is missing.*Download Models"):
        bpy.ops.latentdreamer.generate("INVOKE_DEFAULT", preset="tiny")
    job = next(iter(session.current().jobs.values()))
    assert job.error_code == "weights_missing"
    assert "zero123plus" in job.error


def test_opening_another_file_stops_the_job(fake_pipeline, tmp_path):
    fake_pipeline("slow", 0.05)  # the whole job takes < 1 s: without the handler its mesh would land below
    start(input_image(tmp_path))
    while not bpy.context.window_manager.latentdreamer.stage:
        operators.poll_jobs()
        time.sleep(0.02)
    bpy.ops.wm.read_homefile(use_empty=True)  # a file load (preferences kept): load_pre runs
    assert not session.current().running()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # the worker's late events must not land in the new file
        operators.poll_jobs()
        time.sleep(0.05)
    assert not [o for o in bpy.data.objects if o.type == "MESH"]
    assert bpy.ops.latentdreamer.generate.poll()


def test_release_during_a_job_says_what_happened_and_what_was_kept(fake_pipeline, tmp_path):
    fake_pipeline("slow", 0.1)
    start(input_image(tmp_path))
    status = bpy.context.window_manager.latentdreamer
    while not status.object_name:  # wait for the first live preview
        operators.poll_jobs()
        time.sleep(0.02)
    assert bpy.ops.latentdreamer.release_backend() == {"FINISHED"}
    assert not status.running
    assert status.error == f"The backend was released while this job ran. The mesh so far was kept as '{status.object_name}'."
    assert status.hint == "Generate again to restart it."
    assert bpy.data.objects[status.object_name].data.materials


def test_batch_never_kills_a_running_panel_job(fake_pipeline, tmp_path):
    from latentdreamer_addon import batch

    fake_pipeline("slow", 0.05)
    start(input_image(tmp_path))
    pid = session.current().client.pid
    with pytest.raises(batch.BatchError, match="busy with a job started with other settings"):
        batch.generate_images([input_image(tmp_path)], preset="tiny", worker_args="--log-level DEBUG")
    run_until_finished()
    status = bpy.context.window_manager.latentdreamer
    assert not status.error and bpy.data.objects.get(status.object_name) is not None
    assert session.current().client.pid == pid  # the same worker ran the panel's job to the end
    # With the panel's own set-up the batch shares that warm worker.
    (obj,) = batch.generate_images([input_image(tmp_path)], preset="tiny")
    assert session.current().client.pid == pid and obj.name != status.object_name


def test_the_backend_starts_early_when_the_panel_shows_unless_turned_off(addon):
    addon.start_early = False
    assert operators.prestart_backend() is None  # a one-shot timer
    assert session.current() is None
    addon.start_early = True
    operators.prestart_backend()
    sess = session.current()
    deadline = time.monotonic() + 60
    while not sess.alive or not sess.info:  # started in the background: Blender never waits for it
        assert time.monotonic() < deadline, "the early start never said hello"
        time.sleep(0.05)
    pid = sess.client.pid
    operators.prestart_backend()  # a second draw does not start another
    assert session.current().client.pid == pid
