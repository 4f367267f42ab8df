"""The blocking batch API against a real worker (with the worker tests' stand-in pipeline,
see test_operators.py; the real-pipeline version is in test_generation.py)."""

from __future__ import annotations

import threading

import bpy
import pytest

from latentdreamer_addon import batch, session

from addon_testing import backend_python, example_mesh, views_of_mesh
from test_operators import FAKE_DIR, input_image

pytestmark = pytest.mark.skipif(backend_python() is None, reason="no backend Python (.venv-backend) to run the worker")


@pytest.fixture
def fake_worker(clean_file, monkeypatch):
    if not (FAKE_DIR / "fake_pipeline.py").is_file():
        pytest.skip("the worker's stand-in pipeline (tests/backend/worker/fake_pipeline.py) is missing")
    monkeypatch.setenv("PYTHONPATH", str(FAKE_DIR))
    monkeypatch.setenv("FAKE_STEP_S", "0.01")
    yield {"python": backend_python(), "worker_args": "--log-file '' --no-probe --pipeline fake_pipeline:slow"}
    session.release()
    assert not [t for t in threading.enumerate() if t.name.startswith("latentdreamer")]


def test_two_images_become_two_objects_and_blend_files(fake_worker, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("lamp", "chair"):
        input_image(tmp_path).rename(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not an image, skipped by the folder scan")
    objs = batch.generate_images(folder, preset="tiny", save_blend_dir=tmp_path / "blends", **fake_worker)
    assert [o.name for o in objs] == ["chair", "lamp"]  # sorted by file name
    assert all(len(o.data.polygons) == 4 for o in objs)
    assert objs[0].location.x != objs[1].location.x  # side by side, not stacked
    out = capsys.readouterr().out
    assert "[LatentDreamer] 1/2" in out and "Painting colours" in out and "done: lamp" in out
    with bpy.data.libraries.load(str(tmp_path / "blends" / "lamp.blend")) as (src, _):
        assert src.objects == ["lamp"]


def test_a_failing_image_is_reported_after_the_others_ran(fake_worker, tmp_path):
    good = input_image(tmp_path)
    bad = tmp_path / "broken.png"
    bad.write_text("no pixels here")
    with pytest.raises(batch.BatchError) as info:
        batch.generate_images([bad, good], preset="tiny", **fake_worker)
    assert [o.name for o in info.value.objects] == ["chair"]
    ((path, message),) = info.value.failures
    assert path == str(bad) and "not an image" in message
    objs = batch.generate_images([bad, good], preset="tiny", skip_errors=True, **fake_worker)
    assert len(objs) == 1


def test_own_six_views_as_batch_items(fake_worker, tmp_path):
    grid = input_image(tmp_path)  # the stand-in pipeline does not read the pixels
    objs = batch.generate_images(
        [{"views": {"grid": str(grid)}, "name": "mug"}, {"views": {"grid": str(grid)}}], preset="tiny", **fake_worker
    )
    assert [o.name for o in objs] == ["mug", "chair"]


def test_an_unwritable_blend_folder_is_a_batch_error_before_any_job(fake_worker, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    with pytest.raises(batch.BatchError) as info:
        batch.generate_images([input_image(tmp_path)], preset="tiny", save_blend_dir=blocker / "blends", **fake_worker)
    ((path, message),) = info.value.failures
    assert path == str(blocker / "blends") and message.startswith("cannot write .blend files there")
    assert session.current() is None or not session.current().jobs  # nothing was sent
    assert not bpy.data.objects


def test_a_timed_out_item_leaves_nothing_behind_and_the_batch_goes_on(fake_worker, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_STEP_S", "0.3")  # each job takes a few seconds
    with pytest.raises(batch.BatchError) as info:
        batch.generate_images([input_image(tmp_path)], preset="tiny", timeout_s=0.8, **fake_worker)
    ((_, message),) = info.value.failures
    assert message == "timed out after 0.8 s"
    assert not bpy.data.objects and not [m for m in bpy.data.meshes if m.users == 0]
    assert not session.current().running()


def test_a_job_list_goes_to_the_backends_batch_command(clean_file, tmp_path):
    mesh = example_mesh(tmp_path / "object.glb", resolution=32)
    views = views_of_mesh(mesh, tmp_path / "views")
    items = [
        {
            "views": {"files": [str(views / f"rgb_{k}.png") for k in range(6)]},
            "normals": {"files": [str(views / f"normal_{k}.png") for k in range(6)]},
            "name": "statue",
        },
        tmp_path / "missing.png",
    ]
    job = batch.submit_to_farm(items, tmp_path / "farm", preset="tiny", python=backend_python())
    assert job.wait(300) == 1  # the missing image fails; the exit code says so
    text = job.summary.read_text()
    assert "| statue | done |" in text and "| missing | failed |" in text
    assert (tmp_path / "farm" / "statue" / "statue.glb").is_file()
    assert not bpy.data.objects  # a farm job's meshes land in its folder, not in the scene
    with pytest.raises(batch.BatchError, match="needs the backend's Python interpreter"):
        batch.submit_to_farm(items, tmp_path / "farm2", python="ssh gpu-box latentdreamer worker")
