"""The job runner in-process, with injected pipeline behaviour: OOM retry, cancellation, one terminal event."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from latentdreamer.api import Cancelled, GenerateSettings, GenerationResult, Progress
from latentdreamer.errors import UserFacingError
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.priors.errors import PriorInputError
from latentdreamer.priors.user_views import InputError
from latentdreamer.worker.jobs import JobRunner, is_out_of_memory, lower_preset
from latentdreamer.worker.protocol import EVENT_FIELDS, TERMINAL_EVENTS, GenerateRequest, ImageSource, RequestError
from latentdreamer.worker.results import JobFolders


def triangle() -> Mesh:
    return Mesh(np.eye(3, dtype=np.float32), np.array([[0, 1, 2]]))


class Recorder:
    def __init__(self):
        self.events: list[dict] = []
        self.cond = threading.Condition()

    def __call__(self, event: dict) -> None:
        assert set(EVENT_FIELDS[event["type"]]) <= set(event) | {"id"}
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def terminal(self, job_id: str, timeout: float = 10.0) -> dict:
        def found():
            return [e for e in self.events if e["id"] == job_id and e["type"] in TERMINAL_EVENTS]

        with self.cond:
            assert self.cond.wait_for(found, timeout), self.events
            return found()[0]

    def of(self, job_id: str) -> list[dict]:
        return [e for e in self.events if e["id"] == job_id]


@pytest.fixture
def runner_with(tmp_path):
    runners = []

    def make(execute, **kwargs) -> tuple[JobRunner, Recorder]:
        rec = Recorder()
        runner = JobRunner(execute, rec, JobFolders(tmp_path / "jobs", keep=3), **kwargs)
        runners.append(runner)
        return runner, rec

    yield make
    for runner in runners:
        assert runner.stop(5.0)


def submit(runner: JobRunner, job_id: str, preset: str = "standard") -> None:
    runner.submit(GenerateRequest(job_id, views=ImageSource(grid="g.png")), GenerateSettings(preset=preset))


def cuda_oom() -> Exception:
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_is_retried_once_one_preset_lower(runner_with):
    presets = []

    def execute(job, settings, reporter):
        presets.append(settings.preset)
        if settings.preset == "high":
            raise cuda_oom()
        return GenerationResult(triangle())

    runner, rec = runner_with(execute)
    submit(runner, "j", "high")
    result = rec.terminal("j")
    assert presets == ["high", "standard"]
    assert result["type"] == "result"
    assert (result["stats"]["preset"], result["stats"]["requested_preset"]) == ("standard", "high")
    notes = [e["message"] for e in rec.of("j") if e["type"] == "progress"]
    assert notes == ["out of memory at preset high; retrying once at standard"]


@pytest.mark.parametrize("failure", [cuda_oom, lambda: RuntimeError("CUDA error: out of memory"), MemoryError])
def test_out_of_memory_twice_is_a_clear_error(runner_with, failure):
    presets = []

    def execute(job, settings, reporter):
        presets.append(settings.preset)
        raise failure()

    runner, rec = runner_with(execute)
    submit(runner, "j", "standard")
    error = rec.terminal("j")
    assert presets == ["standard", "draft"]
    assert error["code"] == "out_of_memory"
    assert error["message"].startswith("out of memory at preset 'standard' (") and ", then at 'draft' (" in error["message"]
    assert "smaller preset" in error["hint"]
    # the runner survives and runs the next job
    runner._execute = lambda job, settings, reporter: GenerationResult(triangle())
    submit(runner, "k")
    assert rec.terminal("k")["type"] == "result"


def test_no_retry_below_draft_and_other_errors_are_not_retried(runner_with):
    calls = []

    def execute(job, settings, reporter):
        calls.append(settings.preset)
        raise cuda_oom() if job.id == "d" else RuntimeError("CUDA error: device-side assert triggered")

    runner, rec = runner_with(execute)
    submit(runner, "d", "draft")
    submit(runner, "e", "high")
    assert rec.terminal("d")["code"] == "out_of_memory"
    error = rec.terminal("e")
    assert error["code"] == "internal" and "device-side assert" in error["message"]
    assert calls == ["draft", "high"]


def test_oom_detection_and_preset_order():
    assert is_out_of_memory(cuda_oom()) and is_out_of_memory(RuntimeError("DefaultCPUAllocator: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch")) and not is_out_of_memory(ValueError("out of memory"))
    assert [lower_preset(p) for p in ("tiny", "draft", "standard", "high")] == [None, None, "draft", "standard"]


def test_request_errors_from_the_pipeline_keep_their_code(runner_with):
    def execute(job, settings, reporter):
        raise RequestError("weights_missing", "no SAE weights", "download them")

    runner, rec = runner_with(execute)
    submit(runner, "j")
    assert rec.terminal("j") == {
        "type": "error",
        "id": "j",
        "code": "weights_missing",
        "message": "no SAE weights",
        "hint": "download them",
    }


@pytest.mark.parametrize(
    "error, code",
    [
        (UserFacingError("no SAE weights in ~/models", "run latentdreamer weights", code="weights_missing"), "weights_missing"),
        (InputError("views grid image g.png has the wrong size", "use 640x960"), "invalid_input"),
        (PriorInputError("the image is empty", "use another image", code="something_new"), "invalid_input"),
    ],
)
def test_user_facing_errors_become_stable_error_codes(runner_with, error, code):
    def execute(job, settings, reporter):
        raise error

    runner, rec = runner_with(execute)
    submit(runner, "j")
    assert rec.terminal("j") == {"type": "error", "id": "j", "code": code, "message": error.message, "hint": error.hint}


def test_every_job_gets_exactly_one_terminal_event_whatever_happens(runner_with):
    release = threading.Event()

    def execute(job, settings, reporter):
        cb = reporter.callbacks()
        for step in range(100):
            if cb.should_cancel():
                raise Cancelled(triangle() if step else None, "coarse")
            cb.on_progress(Progress("coarse", step, 100, step / 100))
            if job.id == "slow":
                release.wait(0.05)
            if job.id == "boom" and step == 3:
                raise KeyError("x")
            if job.id == "exit":
                raise SystemExit(3)  # a library calling sys.exit() must not end the job thread
        return GenerationResult(triangle())

    runner, rec = runner_with(execute, progress_interval=10.0)
    for job_id in ("slow", "queued-then-cancelled", "boom", "exit", "fine", "cancelled-at-stop"):
        submit(runner, job_id)
    assert runner.cancel("queued-then-cancelled") == "dequeued"
    while not rec.of("slow")[1:]:
        time.sleep(0.01)
    assert runner.cancel("slow") == "cancelling"
    assert rec.terminal("fine")["type"] == "result"
    assert runner.stop(5.0)
    kinds = {
        j: [e["type"] for e in rec.of(j) if e["type"] in TERMINAL_EVENTS]
        for j in ("slow", "queued-then-cancelled", "boom", "exit", "fine", "cancelled-at-stop")
    }
    assert kinds == {
        "slow": ["cancelled"],
        "queued-then-cancelled": ["cancelled"],
        "boom": ["error"],
        "exit": ["error"],
        "fine": ["result"],
        "cancelled-at-stop": ["cancelled"],
    }
    # progress is thinned per stage but the stage's last step always goes out
    fine_steps = [e["step"] for e in rec.of("fine") if e["type"] == "progress"]
    assert fine_steps[0] == 0 and len(fine_steps) < 5
    with pytest.raises(RequestError) as err:
        runner.cancel("fine")
    assert err.value.code == "unknown_job"


def test_a_job_submitted_while_idle_runs_at_once_and_does_not_take_a_queue_place(runner_with):
    # Regression: the job thread had not yet taken the first job when the second arrived,
    # so with max_queue=1 the second was refused as queue_full (and CI timed out on a busy machine).
    release = threading.Event()

    def execute(job, settings, reporter):
        release.wait(10)
        return GenerationResult(triangle())

    runner, rec = runner_with(execute, max_queue=1)
    with runner._cond:  # the job thread cannot wake up before both submissions
        assert runner.submit(GenerateRequest("a", views=ImageSource(grid="g.png")), GenerateSettings()) == 0
        assert runner.submit(GenerateRequest("b", views=ImageSource(grid="g.png")), GenerateSettings()) == 1
        assert runner.status() == ("a", ["b"])
    with pytest.raises(RequestError) as err:
        submit(runner, "c")
    assert err.value.code == "queue_full"
    release.set()
    assert rec.terminal("a")["type"] == rec.terminal("b")["type"] == "result"


def test_a_job_submitted_just_before_stop_still_gets_its_terminal_event(runner_with):
    runner, rec = runner_with(lambda job, settings, reporter: GenerationResult(triangle()))
    with runner._cond:
        submit(runner, "a")
        runner._stopping = True
        runner._cond.notify_all()
    runner._thread.join(5)
    assert [e["type"] for e in rec.of("a")] == ["queued", "cancelled"]


def test_job_folders_keep_the_newest_and_only_their_own(tmp_path):
    folders = JobFolders(tmp_path, keep=2)
    (tmp_path / "job-not-ours").mkdir()
    made = [folders.create(f"job/{i}") for i in range(4)]
    assert [p.exists() for p in made] == [False, False, True, True]
    assert (tmp_path / "job-not-ours").is_dir() and "/" not in made[-1].name[4:]
    folders.close()
    assert made[-1].exists()  # a caller's folder outlives the worker
    temporary = JobFolders(None, keep=1)
    # another live worker's folder survives pruning; a dead worker's folder does not
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live_folder = tmp_path / f"job-20200101T000000-{os.getppid()}-00001-x"
    dead_folder = tmp_path / f"job-20200101T000000-{dead.pid}-00001-y"
    for folder in (live_folder, dead_folder):
        folder.mkdir()
        (folder / ".latentdreamer-job").write_text("x")
        os.utime(folder / ".latentdreamer-job", (0, 0))  # the oldest: first in line for removal
    folders.create("next")
    assert live_folder.is_dir() and not dead_folder.exists()
    temporary.create("x")
    temporary.close()
    assert not temporary.root.exists()
