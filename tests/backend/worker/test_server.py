"""The worker as a process: requests on stdin, events on stdout, its life cycle and its files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from worker_harness import pid_alive


@pytest.fixture
def grid(tmp_path) -> str:
    path = tmp_path / "grid.png"
    Image.fromarray(np.full((96, 64, 3), 127, np.uint8)).save(path)
    return str(path)


def gen(request_id: str, grid: str, **extra) -> dict:
    return {"type": "generate", "id": request_id, "views": {"grid": grid}, **extra}


def test_hello_comes_first_and_ping_answers(start_worker):
    w = start_worker()
    assert w.hello["protocol"] == 1 and w.hello["pid"] == w.proc.pid
    assert Path(w.hello["jobs_dir"]).is_dir() and w.hello["log_file"] is None
    assert w.hello["capabilities"]["presets"] == ["tiny", "draft", "standard", "high"]
    assert w.request({"type": "ping", "id": "p1"}) == {"type": "pong", "id": "p1", "running": None, "queued": []}


def test_the_cli_sub_command_is_the_same_worker_and_logs_to_its_file(start_worker, tmp_path):
    log = tmp_path / "logs" / "worker.log"
    w = start_worker("--log-file", str(log), command=[sys.executable, "-m", "latentdreamer", "worker"])
    assert w.hello["protocol"] == 1 and w.hello["log_file"] == str(log)
    assert w.request({"type": "shutdown", "id": "s"})["type"] == "bye"
    assert w.wait() == 0
    assert "stopping (shutdown requested)" in log.read_text()


MALFORMED = [
    ("{not json", "bad_json", None),
    ("[1, 2]", "bad_json", None),
    ('{"type": "ping"}', "bad_request", None),
    ('{"id": "a"}', "bad_request", "a"),
    ('{"type": "dance", "id": "a"}', "unknown_request", "a"),
    ('{"type": "generate", "id": "a"}', "bad_request", "a"),
    ('{"type": "generate", "id": "a", "image": "x.png", "views": {"grid": "y.png"}}', "bad_request", "a"),
    ('{"type": "generate", "id": "a", "views": {"files": ["a.png"]}}', "bad_request", "a"),
    ('{"type": "generate", "id": "a", "image": "x.png", "preset": "draft"}', "bad_request", "a"),
    ('{"type": "generate", "id": "a", "image": "x.png", "settings": {"seed": "1"}}', "bad_request", "a"),
    ('{"type": "cancel", "id": "a"}', "bad_request", "a"),
    ('{"type": "ping", "id": "a", "extra": 1}', "bad_request", "a"),
]


def test_malformed_requests_get_an_error_and_the_worker_lives_on(start_worker):
    w = start_worker()
    for line, code, request_id in MALFORMED:
        w.send(line)
        event = w.next()
        assert (event["type"], event["code"], event["id"]) == ("error", code, request_id), (line, event)
        assert event["message"]
    w.send(b"{" + b" " * (1 << 20) + b"}")
    assert w.next()["message"].startswith("request line longer than")
    assert w.request({"type": "ping", "id": "alive"})["type"] == "pong"


def test_bad_settings_values_are_refused(start_worker, grid):
    w = start_worker()
    event = w.request(gen("g", grid, settings={"preset": "ultra"}))
    assert event["code"] == "bad_request" and "ultra" in event["message"]


def test_input_files_are_checked_before_queueing(start_worker, tmp_path, grid):
    w = start_worker()
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    huge = tmp_path / "huge.png"
    Image.new("1", (8000, 6000)).save(huge)
    cases = {
        "missing": (gen("missing", str(tmp_path / "nope.png")), "file_not_found"),
        "folder": (gen("folder", str(tmp_path)), "file_not_found"),
        "text": (gen("text", str(text)), "not_an_image"),
        "huge": (gen("huge", str(huge)), "image_too_large"),
        "normals": (gen("normals", grid, normals={"grid": str(text)}), "not_an_image"),
    }
    for case, (message, code) in cases.items():
        event = w.request(message)
        assert (event["type"], event["code"]) == ("error", code), (case, event)
        assert event["hint"]
    assert "40,000,000" in w.request(cases["huge"][0])["message"]


def test_a_job_streams_views_progress_previews_and_a_result(start_worker, grid):
    w = start_worker()
    events = w.until("g1", timeout=30) if not w.send(gen("g1", grid, glb=True, settings={"preview_every": 2})) else []
    kinds = [e["type"] for e in events]
    assert kinds[0] == "queued" and events[0]["position"] == 0
    assert kinds[1] == "views" and kinds[-1] == "result"
    assert {"progress", "preview"} <= set(kinds)
    for path in events[1]["rgb"] + events[1]["normals"]:
        assert Image.open(path).size == (8, 8)
    assert Image.open(events[1]["rgb"][0]).mode == "RGBA"
    progress = [e for e in events if e["type"] == "progress"]
    assert progress[-1]["fraction"] == pytest.approx(1.0) and progress[-1]["stage"] == "texture"
    previews = [e for e in events if e["type"] == "preview"]
    assert len(previews) == 9  # steps 2, 4 and 5 (the last) of each of 3 stages
    for preview in previews[-3:]:
        with np.load(preview["path"]) as data:
            assert data["vertices"].shape == (preview["num_vertices"], 3)
    assert not any(Path(p["path"]).exists() for p in previews[:-3])  # only the newest three are kept
    result = events[-1]
    with np.load(result["path"]) as data:
        assert data["vertices"].dtype == np.float32 and data["vertices"].shape == (4, 3)
        assert data["faces"].dtype == np.int32 and data["faces"].shape == (4, 3)
        assert data["colors"].dtype == np.uint8 and data["colors"][0].tolist() == [255, 0, 0, 255]
    assert Path(result["glb"]).read_bytes()[:4] == b"glTF"
    assert result["stats"]["num_faces"] == 4 and result["stats"]["preset"] == "standard"
    assert result["timings"]["total_s"] > 0
    assert Path(result["path"]).parent.parent == Path(w.hello["jobs_dir"])


def test_second_generate_is_queued_and_cancels_work_at_every_state(start_worker, grid):
    w = start_worker(env={"FAKE_STEP_S": "0.2"})
    w.send(gen("a", grid))
    w.send(gen("b", grid))
    w.send(gen("c", grid))
    queued = [w.until(i, kinds={"queued"})[-1] for i in ("a", "b", "c")]
    assert [q["position"] for q in queued] == [0, 1, 2]
    pong = w.request({"type": "ping", "id": "p"})
    assert pong["running"] == "a" and pong["queued"] == ["b", "c"]
    assert w.request({"type": "generate", "id": "b", "views": {"grid": grid}})["code"] == "duplicate_id"
    ack = w.request({"type": "cancel", "id": "x1", "job": "b"})
    assert ack["state"] == "dequeued"
    # the dequeued job's `cancelled` was sent before the ack
    ack = w.request({"type": "cancel", "id": "x2", "job": "a"})
    assert ack == {"type": "ack", "id": "x2", "job": "a", "state": "cancelling"}
    cancelled = w.until("a")[-1]
    assert cancelled["type"] == "cancelled" and cancelled["stage"] in ("coarse", "refine", "texture")
    # c runs after a; cancelling a finished job is an unknown job
    assert w.until("c", kinds={"progress"})[-1]["id"] == "c"
    assert w.request({"type": "cancel", "id": "x3", "job": "a"})["code"] == "unknown_job"
    w.send({"type": "cancel", "id": "x4", "job": "c"})
    assert w.until("c")[-1]["type"] == "cancelled"


def test_cancelled_job_hands_back_its_best_mesh(start_worker, grid):
    w = start_worker(env={"FAKE_STEP_S": "0.1"})
    w.send(gen("a", grid, settings={"preview_every": 1}))
    w.until("a", kinds={"preview"})
    w.send({"type": "cancel", "id": "c", "job": "a"})
    event = w.until("a")[-1]
    assert event["type"] == "cancelled"
    with np.load(event["path"]) as data:
        assert data["faces"].shape == (4, 3)


def test_queue_is_bounded(start_worker, grid):
    w = start_worker("--max-queue", "1", env={"FAKE_STEP_S": "0.5"})
    w.send(gen("a", grid))
    w.send(gen("b", grid))
    assert w.until("b", kinds={"queued"})[-1]["position"] == 1
    assert w.request(gen("c", grid))["code"] == "queue_full"


def test_stdout_carries_only_protocol_lines(start_worker, grid):
    w = start_worker(pipeline="fake_pipeline:noisy")
    assert w.request(gen("g", grid))["type"] == "result"
    w.close()
    for raw in w.raw:
        assert json.loads(raw)["type"]
    noise = "".join(w.stderr)
    assert "print() to stdout" in noise and "os.write to fd 1" in noise and "a library warning" in noise


def test_a_failing_pipeline_is_an_error_not_a_dead_worker(start_worker, grid):
    w = start_worker(pipeline="fake_pipeline:crash")
    event = w.request(gen("g", grid))
    assert event["code"] == "internal" and "ZeroDivisionError" in event["message"]
    assert w.request({"type": "ping", "id": "p"})["type"] == "pong"
    assert w.wait_for_stderr("Traceback"), "".join(w.stderr)


def test_single_image_without_prior_weights_says_how_to_get_them(start_worker, tmp_path, grid):
    empty = tmp_path / "no-models"
    empty.mkdir()
    w = start_worker("--models-dir", str(empty), pipeline=None, env={"HF_HUB_CACHE": str(empty)})
    assert "image" in w.hello["capabilities"]["inputs"]
    weights = w.hello["weights"]
    assert not weights["zero123plus"]["present"] and not weights["normal-controlnet"]["present"]
    assert {"sae", "lin"} <= set(weights)
    event = w.request({"type": "generate", "id": "i", "image": grid})
    assert (event["type"], event["code"], event["id"]) == ("error", "weights_missing", "i")
    assert "zero123plus" in event["message"] and "latentdreamer weights download" in event["hint"]


def test_a_prompt_without_the_text_model_says_how_to_get_it_before_anything_loads(start_worker, tmp_path):
    empty = tmp_path / "no-models"
    empty.mkdir()
    w = start_worker("--models-dir", str(empty), pipeline=None, env={"HF_HUB_CACHE": str(empty)})
    assert "prompt" in w.hello["capabilities"]["inputs"]
    event = w.request({"type": "generate", "id": "t", "prompt": "a red ceramic teapot"})
    assert (event["type"], event["code"], event["id"]) == ("error", "weights_missing", "t")
    assert "text-to-image" in event["message"] and "latentdreamer weights download text-to-image" in event["hint"]
    for bad in ("", "   ", 7, "x" * 1001):
        event = w.request({"type": "generate", "id": "b", "prompt": bad})
        assert (event["type"], event["code"]) == ("error", "bad_request"), bad
    event = w.request({"type": "generate", "id": "c", "prompt": "a cup", "image": "/x.png"})
    assert event["code"] == "bad_request" and "exactly one of" in event["message"]


def _wait_for_log(w, text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in line for line in w.stderr):
            return True
        time.sleep(0.1)
    return False


def test_the_built_in_pipeline_warms_up_ahead_of_the_first_job(start_worker):
    w = start_worker(pipeline=None, probe=True)
    assert _wait_for_log(w, "warm-up done in", 180), "".join(w.stderr[-20:])
    assert w.request({"type": "ping", "id": "p"})["type"] == "pong"


def test_a_job_stops_the_warm_up_and_runs_at_once(start_worker, grid):
    w = start_worker(pipeline=None, probe=True)
    event = w.request(gen("g", grid))  # not usable views: the job ends at once, after the warm-up stopped
    assert event["type"] == "error" and event["code"] == "invalid_input", event
    assert _wait_for_log(w, "warm-up stopped by a job", 30) or any("warm-up done" in line for line in w.stderr)


def test_shutdown_cancels_jobs_then_says_bye_and_removes_its_folder(start_worker, grid):
    w = start_worker(env={"FAKE_STEP_S": "0.2"})
    jobs_dir = Path(w.hello["jobs_dir"])
    w.send(gen("a", grid))
    w.send(gen("b", grid))
    w.until("a", kinds={"progress"})
    w.send({"type": "shutdown", "id": "s"})
    events = w.until("s")
    terminal = {e["id"]: e["type"] for e in events if e["type"] in ("cancelled", "bye")}
    assert terminal == {"a": "cancelled", "b": "cancelled", "s": "bye"}
    assert w.wait() == 0
    assert w.next() is None
    assert not jobs_dir.exists()


@pytest.mark.parametrize("how", ["stdin closed", "SIGTERM"])
def test_worker_exits_mid_job_when_its_client_goes(start_worker, grid, how):
    w = start_worker(env={"FAKE_STEP_S": "0.2"})
    jobs_dir = Path(w.hello["jobs_dir"])
    w.send(gen("a", grid))
    w.until("a", kinds={"progress"})
    if how == "SIGTERM":
        w.proc.send_signal(signal.SIGTERM)
    else:
        w.proc.stdin.close()
    started = time.monotonic()
    assert w.wait(10) == 0
    assert time.monotonic() - started < 5
    assert not pid_alive(w.proc.pid)
    assert not jobs_dir.exists()


def test_nothing_is_left_in_the_temp_folder_after_shutdown(start_worker, tmp_path, grid):
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    w = start_worker(env={"TMPDIR": str(private_tmp)})
    assert Path(w.hello["jobs_dir"]).parent == private_tmp
    assert w.request(gen("g", grid, glb=True))["type"] == "result"
    w.send({"type": "shutdown", "id": "s"})
    w.until("s")
    assert w.wait() == 0
    assert list(private_tmp.iterdir()) == []


def test_a_job_stuck_in_native_code_does_not_keep_the_worker_alive(start_worker, grid):
    w = start_worker("--grace", "0.5", env={"FAKE_STEP_S": "30"})
    w.send(gen("a", grid))
    w.until("a", kinds={"views"})
    w.proc.stdin.close()
    assert w.wait(10) == 0
    assert not Path(w.hello["jobs_dir"]).exists()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--jobs-dir", "/proc/no-jobs-here"], "cannot use /proc/no-jobs-here as the jobs folder"),
        (["--keep-jobs", "0"], "must be at least 1"),
        (["--pipeline", "no_such_module:run"], "cannot load the pipeline"),
    ],
)
def test_a_worker_that_cannot_serve_exits_with_a_reason_before_hello(args, says):
    out = subprocess.run(
        [sys.executable, "-m", "latentdreamer.worker", "--log-file", "", *args], input=b"", capture_output=True, timeout=60
    )
    assert out.returncode == 2 and out.stdout == b"" and says in out.stderr.decode()


def test_jobs_dir_keeps_the_newest_results_and_only_its_own_folders(start_worker, tmp_path, grid):
    jobs = tmp_path / "jobs"
    foreign = jobs / "mine"
    foreign.mkdir(parents=True)
    (jobs / "job-lookalike").mkdir()  # no marker: not the worker's
    w = start_worker("--jobs-dir", str(jobs), "--keep-jobs", "2")
    results = [w.request(gen(f"g{i}", grid))["path"] for i in range(3)]
    w.close()
    assert w.proc.returncode == 0
    assert [Path(p).exists() for p in results] == [False, True, True]
    assert foreign.is_dir() and (jobs / "job-lookalike").is_dir()
