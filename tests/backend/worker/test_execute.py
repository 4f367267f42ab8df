"""The worker's job, in-process: the one job path with real input loading and saving, and a
stand-in prior and pipeline (patched where the job finds them)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from latentdreamer import job as job_module
from latentdreamer.api import Cancelled, GenerateSettings, GenerationResult, Progress, ViewSet
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.locations import Locations
from latentdreamer.priors.provider import PriorViews
from latentdreamer.worker import execute as bridge
from latentdreamer.worker.jobs import Job, JobReporter
from latentdreamer.worker.protocol import GenerateRequest, ImageSource, RequestError

SEEN: dict = {}


def fake_generate(views: ViewSet, settings, callbacks, prior=None) -> GenerationResult:
    SEEN["views"] = views
    for step in (1, 2):
        callbacks.on_progress(Progress("coarse", step, 2, step / 2))
    return GenerationResult(Mesh(np.eye(3), np.array([[0, 1, 2]])))


class FakeProvider:
    instances = 0

    def __init__(self, locations=None, steps=None, guidance=4.0, segmentation="auto", span=(0.0, 1.0), framing=0.85):
        FakeProvider.instances += 1
        self.span = span

    def run(self, image, settings, callbacks):
        callbacks.on_progress(Progress("views", 1, 1, self.span[1], 0.0, "multi-view diffusion"))
        rgb = np.full((6, 32, 32, 3), 0.5, np.float32)
        grid = np.full((96, 64, 3), 0.5, np.float32)
        return PriorViews(
            ViewSet(rgb=rgb, alpha=np.ones((6, 32, 32), np.float32)),
            SimpleNamespace(rgba=np.ones((32, 32, 4), np.float32)),
            grid,
            None,
            ["note"],
        )


@pytest.fixture
def run_job(tmp_path, monkeypatch):
    import latentdreamer.pipeline.generate as generate_module
    import latentdreamer.priors.provider as provider_module

    monkeypatch.setattr(generate_module, "generate_from_views", fake_generate)
    monkeypatch.setattr(provider_module, "Zero123PlusProvider", FakeProvider)
    monkeypatch.setattr(job_module, "check_models", lambda inputs, models: None)  # the stand-in needs no weights
    monkeypatch.setattr(job_module.Models, "shape_prior", lambda self, device: None)  # nor an SAE
    bridge.use_models(Locations())

    def run(request: GenerateRequest, cancel: bool = False, settings=GenerateSettings()):
        events = []
        job = Job(request, settings, folder=tmp_path / request.id)
        job.folder.mkdir()
        if cancel:
            job.cancel.set()
        reporter = JobReporter(job, events.append, min_interval=0.0)
        return bridge.execute(job, settings, reporter), events

    yield run
    bridge.release_models()


def grid_file(path, size=32) -> str:
    """Six RGBA views with an opaque square in the middle of each, as one grid PNG."""
    tile = np.zeros((size, size, 4), np.uint8)
    tile[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = (200, 60, 40, 255)
    Image.fromarray(np.concatenate([np.concatenate([tile, tile], 1)] * 3, 0)).save(path)
    return str(path)


def test_six_views_go_through_the_real_loader(run_job, tmp_path):
    grid = grid_file(tmp_path / "views.png")
    result, events = run_job(GenerateRequest("v", views=ImageSource(grid=grid), normals=None))
    assert result.mesh.num_faces == 1
    assert SEEN["views"].rgb.shape == (6, 32, 32, 3) and SEEN["views"].alpha[0, 16, 16] == 1.0
    views = events[0]
    assert views["type"] == "views" and len(views["rgb"]) == 6 and views["normals"] is None
    assert [e["fraction"] for e in events if e["type"] == "progress"] == [0.5, 1.0]


def test_bad_views_are_a_user_error_from_the_loader(run_job, tmp_path):
    wrong = tmp_path / "square.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(wrong)
    with pytest.raises(Exception) as err:
        run_job(GenerateRequest("v", views=ImageSource(grid=str(wrong))))
    assert getattr(err.value, "code", None) == "bad_input" and "2 columns x 3 rows" in err.value.hint


def test_single_image_saves_the_prior_views_and_keeps_the_prior_loaded(run_job, tmp_path):
    FakeProvider.instances = 0
    _, events = run_job(GenerateRequest("a", image="input.png"))
    views = next(e for e in events if e["type"] == "views")
    assert {"condition", "colour_grid", "rgb"} <= set(views) and len(views["rgb"]) == 6
    assert Image.open(views["condition"]).size == (32, 32)
    fractions = [e["fraction"] for e in events if e["type"] == "progress"]
    assert fractions == [pytest.approx(0.3), pytest.approx(0.65), pytest.approx(1.0)]  # prior 0-0.3, mesh 0.3-1
    run_job(GenerateRequest("b", image="input.png"))
    assert FakeProvider.instances == 1
    bridge.release_models()
    run_job(GenerateRequest("c", image="input.png"))
    assert FakeProvider.instances == 2


def test_a_cancel_during_view_loading_stops_before_the_optimisation(run_job, tmp_path):
    SEEN.clear()
    with pytest.raises(Cancelled) as err:
        run_job(GenerateRequest("v", views=ImageSource(grid=grid_file(tmp_path / "g.png"))), cancel=True)
    assert err.value.stage == "views" and "views" not in SEEN


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_without_a_gpu_is_device_unavailable(run_job, tmp_path):
    with pytest.raises(RequestError) as err:
        run_job(GenerateRequest("v", image="x.png"), settings=GenerateSettings(device="cuda"))
    assert err.value.code == "device_unavailable" and "cpu" in err.value.hint


def test_the_request_becomes_the_jobs_inputs():
    both = GenerateRequest(
        "v", views=ImageSource(files=tuple(f"/v/{k}.png" for k in range(6))), normals=ImageSource(grid="/v/n.png")
    )
    inputs = bridge.job_inputs(both)
    assert inputs.source == "views" and len(inputs.view_files) == 6 and str(inputs.normal_grid) == "/v/n.png"
    assert bridge.job_inputs(GenerateRequest("p", prompt="a cup")).source == "prompt"
