"""backend_setup: the install plan and the threaded step runner, with real subprocesses."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from latentdreamer_addon import backend_setup
from latentdreamer_addon.backend_setup import Step, StepRunner


def test_plan_picks_the_torch_build_and_skips_an_existing_venv(tmp_path):
    src = tmp_path / "backend_src"
    cpu = backend_setup.install_plan(tmp_path, src, cuda=False, base_python="/usr/bin/python3")
    cuda = backend_setup.install_plan(tmp_path, src, cuda=True)
    assert cpu[0].argv == ["/usr/bin/python3", "-m", "venv", str(tmp_path / backend_setup.VENV_DIRNAME)]
    torch_cpu = next(s for s in cpu if "PyTorch" in s.label).argv
    torch_cuda = next(s for s in cuda if "PyTorch" in s.label).argv
    assert torch_cpu[torch_cpu.index("--index-url") + 1] == backend_setup.TORCH_INDEX_URLS["cpu"]
    assert torch_cuda[torch_cuda.index("--index-url") + 1] == backend_setup.TORCH_INDEX_URLS["cuda"]
    # The backend with everything the panel offers: diffusion stack and background removal.
    assert cpu[-2].argv[-1] == f"{src}[diffusion,segmentation]"
    # Every pip step runs in the private venv, never in the Python that runs Blender.
    venv_py = str(backend_setup.venv_python(tmp_path / backend_setup.VENV_DIRNAME))
    assert all(s.argv[0] == venv_py for s in cpu[1:])
    # Offline: wheels from a folder, no index at all.
    offline = backend_setup.install_plan(tmp_path, src, cuda=False, wheelhouse="/wheels")
    assert all("--index-url" not in s.argv for s in offline)
    assert all("--no-index" in s.argv for s in offline if "pip" in s.argv)
    # Retrying after the venv exists does not recreate it.
    venv_py_path = Path(venv_py)
    venv_py_path.parent.mkdir(parents=True)
    venv_py_path.touch()
    again = backend_setup.install_plan(tmp_path, src, cuda=False)
    assert not any("venv" == a for s in again for a in s.argv)


def test_worker_python_prefers_the_configured_then_the_private_venv(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTDREAMER_BACKEND_PYTHON", "/dev/env-python")
    assert backend_setup.worker_python("/my/python", tmp_path) == "/my/python"
    assert backend_setup.worker_python("", tmp_path) == "/dev/env-python"
    py = backend_setup.venv_python(tmp_path / backend_setup.VENV_DIRNAME)
    py.parent.mkdir(parents=True)
    py.touch()
    assert backend_setup.worker_python("", tmp_path) == str(py)
    monkeypatch.delenv("LATENTDREAMER_BACKEND_PYTHON")
    assert backend_setup.worker_python("", None) is None


def wait(runner: StepRunner, timeout: float = 60.0):
    runner.join(timeout)
    return runner.snapshot()


def test_runner_creates_a_venv_and_logs_every_line(tmp_path):
    venv = tmp_path / "venv"
    steps = [
        Step("make venv", [sys.executable, "-m", "venv", "--without-pip", str(venv)]),
        Step("say hello", [str(backend_setup.venv_python(venv)), "-c", "print('hello from the venv')"]),
    ]
    runner = StepRunner(steps, tmp_path / "log.txt")
    runner.start()
    snap = wait(runner)
    assert snap.state == "done", snap.error
    assert snap.fraction == 1.0
    assert "hello from the venv" in snap.tail
    log = (tmp_path / "log.txt").read_text()
    assert "== make venv" in log and "hello from the venv" in log


def test_runner_stops_at_a_failed_step_and_can_be_retried(tmp_path):
    flag = tmp_path / "fixed"
    steps = [
        Step("maybe fail", [sys.executable, "-c", f"import os,sys; sys.exit(0 if os.path.exists({str(flag)!r}) else 3)"]),
        Step("after", [sys.executable, "-c", "print('second step ran')"]),
    ]
    first = StepRunner(steps, tmp_path / "log.txt")
    first.start()
    snap = wait(first)
    assert snap.state == "failed"
    assert "maybe fail failed (exit code 3)" in snap.error
    assert "second step ran" not in snap.tail
    flag.touch()
    second = StepRunner(steps, tmp_path / "log.txt")
    second.start()
    snap = wait(second)
    assert snap.state == "done" and "second step ran" in snap.tail


def test_runner_cancel_ends_the_running_command(tmp_path):
    runner = StepRunner(
        [Step("sleep", [sys.executable, "-c", "import time; print('start', flush=True); time.sleep(60)"])], tmp_path / "log.txt"
    )
    start = time.monotonic()
    runner.start()
    while "start" not in runner.snapshot().tail and time.monotonic() - start < 20:
        time.sleep(0.05)
    runner.cancel()
    snap = wait(runner, 20)
    assert snap.state == "cancelled"
    assert time.monotonic() - start < 20


def test_model_status_comes_from_the_backend(tmp_path):
    from addon_testing import backend_python

    if backend_python() is None:
        pytest.skip("no backend Python (.venv-backend)")
    rows = backend_setup.model_status(backend_python(), tmp_path)
    names = {r["name"] for r in rows}
    assert {"zero123plus", "normal-controlnet"} <= names
    assert all(r["present"] is False for r in rows)  # an empty folder holds nothing
    zero123 = next(r for r in rows if r["name"] == "zero123plus")
    assert "CC-BY-NC" in zero123["licence"] and zero123["approx_download_gb"] > 1
    assert {"background-removal", "text-to-image"} <= names
    # The download the button starts is the backend's own command for the image -> 3D models
    # into that folder; the text-to-image model only when asked for.
    (step,) = backend_setup.download_plan(backend_python(), tmp_path)
    assert step.argv[1:] == ["-m", "latentdreamer", "weights", "download", "--image", "--models-dir", str(tmp_path)]
    (text,) = backend_setup.download_plan(backend_python(), tmp_path, text_to_image=True)
    assert text.argv[5:] == ["text-to-image", "--models-dir", str(tmp_path)]
    with pytest.raises(RuntimeError, match="could not report"):
        backend_setup.model_status(sys.executable, tmp_path)  # a Python without the backend


def test_backend_python_may_be_an_interpreter_or_a_whole_worker_command(tmp_path):
    py = tmp_path / "my env" / "python"
    py.parent.mkdir()
    py.write_text("")
    # A file (spaces in its path included) or one word on PATH is an interpreter.
    assert backend_setup.worker_command(str(py)) == [str(py), "-m", "latentdreamer.worker"]
    assert backend_setup.worker_command("python3", "--log-level DEBUG") == [
        "python3",
        "-m",
        "latentdreamer.worker",
        "--log-level",
        "DEBUG",
    ]
    # Anything else is the README's remote recipe: used as given, options appended.
    assert backend_setup.worker_command("ssh gpu-box latentdreamer worker", "--jobs-dir '/srv/ld jobs'") == [
        "ssh",
        "gpu-box",
        "latentdreamer",
        "worker",
        "--jobs-dir",
        "/srv/ld jobs",
    ]
