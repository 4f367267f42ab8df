"""BackendClient against a real worker process: handshake, events, failures, clean exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from client_support import REPO, backend_python, client_threads, pid_alive, worker_command, worker_env, write_png

from latentdreamer_addon.client import BackendClient, ProtocolMismatchError, WorkerStartError


@pytest.fixture
def make_client():
    clients: list[BackendClient] = []

    def make(*args, **kwargs) -> BackendClient:
        client = BackendClient(*args, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
    assert not client_threads()


def views(grid: str) -> dict:
    return {"views": {"grid": grid}}


def wait_for(client: BackendClient, request_id: str, kinds: set[str], timeout: float = 20.0) -> list[dict]:
    seen = []
    for event in client.iter_events(request_id, timeout=timeout):
        seen.append(event)
        if event["type"] in kinds:
            return seen
    return seen


def test_handshake_ping_and_close_leave_nothing_behind(make_client):
    client = make_client(worker_command(), env=worker_env())
    hello = client.start()
    assert hello["protocol"] == 1 and hello["pid"] == client.pid
    jobs_dir = Path(hello["jobs_dir"])
    assert jobs_dir.is_dir()
    ping = client.ping()
    events = list(client.iter_events(ping, timeout=10))
    assert events[-1]["type"] == "pong" and events[-1]["id"] == ping
    pid = client.pid
    client.close()
    assert not client.running and not pid_alive(pid)
    assert not jobs_dir.exists()
    assert not client_threads()


def test_a_job_through_poll_as_blender_would_drive_it(make_client, grid):
    client = make_client(worker_command(), env=worker_env())
    job = client.generate(**views(grid), settings={"preset": "draft", "preview_every": 2})
    kinds, result, deadline = [], None, time.monotonic() + 20
    while result is None and time.monotonic() < deadline:
        for event in client.poll():
            if event["id"] == job:
                kinds.append(event["type"])
                result = event if event["type"] in ("result", "error", "cancelled") else None
        time.sleep(0.02)
    assert result is not None and result["type"] == "result", kinds
    assert kinds[:2] == ["queued", "views"] and "progress" in kinds and "preview" in kinds
    with zipfile.ZipFile(result["path"]) as npz:
        assert sorted(npz.namelist()) == ["colors.npy", "faces.npy", "vertices.npy"]
    assert result["stats"]["preset"] == "draft"


def test_iter_events_keeps_other_requests_events_for_poll(make_client, grid):
    client = make_client(worker_command(), env=worker_env(0.1))
    job = client.generate(**views(grid))
    ping = client.ping()
    assert [e["type"] for e in client.iter_events(ping, timeout=10)][-1] == "pong"
    held = client.poll()
    assert held and held[0]["id"] == job and held[0]["type"] == "queued"


def test_errors_from_the_worker_arrive_as_events(make_client, tmp_path):
    client = make_client(worker_command(), env=worker_env())
    huge = client.generate(**views(write_png(tmp_path / "huge.png", 7000, 7000, pixels=False)))
    missing = client.generate(image=str(tmp_path / "nope.png"))
    unknown = client.cancel("no-such-job")
    codes = {}
    for request_id in (huge, missing, unknown):
        event = list(client.iter_events(request_id, timeout=10))[-1]
        codes[request_id] = (event["type"], event["code"])
    assert codes == {huge: ("error", "image_too_large"), missing: ("error", "file_not_found"), unknown: ("error", "unknown_job")}
    with pytest.raises(TypeError):
        client.generate(settings={"seed": object()})  # not JSON: refused in the caller


def test_cancel_a_running_job(make_client, grid):
    client = make_client(worker_command(), env=worker_env(0.2))
    job = client.generate(**views(grid))
    wait_for(client, job, {"progress"})
    cancel = client.cancel(job)
    events = list(client.iter_events(job, timeout=10))
    assert events[-1]["type"] == "cancelled"
    assert [e for e in client.poll() if e["id"] == cancel][-1]["state"] == "cancelling"


def test_worker_killed_mid_job_is_reported_and_replaced_on_the_next_request(make_client, grid):
    client = make_client(worker_command(), env=worker_env(0.2))
    job = client.generate(**views(grid))
    wait_for(client, job, {"progress"})
    old_pid = client.pid
    os.kill(old_pid, signal.SIGKILL)
    events = list(client.iter_events(job, timeout=10))
    died = events[-1]
    assert (died["type"], died["code"], died["exit_code"]) == ("error", "worker_died", -signal.SIGKILL)
    assert f"pid {old_pid}" in died["message"] and "started" in died["message"]  # the worker's last log line
    assert not client.running
    cancel = client.cancel(job)  # no worker, no job: answered here without starting one
    assert list(client.iter_events(cancel, timeout=1))[-1]["code"] == "unknown_job" and not client.running
    ping = client.ping()  # starts a new worker
    assert client.pid != old_pid
    assert list(client.iter_events(ping, timeout=20))[-1]["type"] == "pong"
    assert not pid_alive(old_pid)


def test_worker_that_exits_by_itself_mid_job(make_client, grid):
    client = make_client(worker_command("fake_pipeline:hard_exit"), env=worker_env())
    job = client.generate(**views(grid))
    died = list(client.iter_events(job, timeout=10))[-1]
    assert (died["code"], died["exit_code"]) == ("worker_died", 3)


def test_close_mid_job_cancels_it_and_cleans_up(make_client, grid):
    client = make_client(worker_command(), env=worker_env(0.2))
    jobs_dir = Path(client.start()["jobs_dir"])
    job = client.generate(**views(grid))
    wait_for(client, job, {"progress"})
    pid = client.pid
    client.close()
    assert [e["type"] for e in client.poll() if e["id"] == job][-1] == "cancelled"
    assert not pid_alive(pid) and not jobs_dir.exists() and not client_threads()


def test_a_wrapper_command_like_ssh_works_and_leaves_no_orphan(make_client, grid):
    # An intermediate process between client and worker, as `ssh host latentdreamer worker` is.
    inner = " ".join(f"'{part}'" for part in worker_command())
    client = make_client(["sh", "-c", f"{inner}; exit $?"], env=worker_env())
    hello = client.start()
    assert hello["pid"] != client.pid  # the worker is the shell's child
    job = client.generate(**views(grid))
    assert list(client.iter_events(job, timeout=20))[-1]["type"] == "result"
    client.close()
    assert not pid_alive(hello["pid"]) and not pid_alive(client.pid)


def test_when_blender_dies_mid_job_the_worker_exits_too(grid):
    # A client process that starts a job and then dies without closing anything.
    script = (
        "import os, sys; sys.path.insert(0, sys.argv[1]);"
        "from latentdreamer_addon.client import BackendClient;"
        f"c = BackendClient({worker_command()!r}, env={worker_env(0.2)!r});"
        f"print(c.start()['pid'], flush=True); c.generate(views={{'grid': {grid!r}}});"
        "next(e for e in c.iter_events(timeout=20) if e['type'] == 'progress');"
        "os._exit(1)"
    )
    out = subprocess.run([sys.executable, "-c", script, str(REPO)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr  # it died mid-job, as planned
    worker_pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while pid_alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(worker_pid), "the worker outlived its client"


def test_protocol_mismatch_is_refused_with_a_clear_message(make_client):
    hello = json.dumps({"type": "hello", "id": None, "protocol": 999, "backend_version": "9.0"})
    fake = [sys.executable, "-c", f"import sys, time; print({hello!r}, flush=True); time.sleep(60)"]
    client = make_client(fake)
    with pytest.raises(ProtocolMismatchError, match=r"version 999 .*backend 9\.0.*version 1; update the add-on"):
        client.start()
    assert not client.running and not client_threads()  # nothing left running without a close()


def test_a_line_that_is_not_an_event_is_reported_not_swallowed(make_client):
    hello = json.dumps({"type": "hello", "id": None, "protocol": 1})
    fake = [sys.executable, "-c", f"import time; print('Loading model...'); print({hello!r}, flush=True); time.sleep(60)"]
    client = make_client(fake)
    client.start()
    bad = [e for e in client.poll() if e["type"] == "error"]
    assert bad and bad[0]["code"] == "bad_event" and "Loading model..." in bad[0]["message"]


def test_a_worker_that_cannot_start_says_why(make_client):
    broken = [backend_python(), "-c", "import sys; sys.stderr.write('no module named torch\\n'); sys.exit(4)"]
    with pytest.raises(WorkerStartError, match=r"(?s)exited with code 4.*no module named torch"):
        make_client(broken).start()
    with pytest.raises(WorkerStartError, match="cannot start"):
        make_client([str(REPO / "no-such-python")]).start()


def test_a_silent_worker_times_out_and_is_killed(make_client):
    client = make_client([sys.executable, "-c", "import time; time.sleep(60)"], hello_timeout=0.5)
    with pytest.raises(WorkerStartError, match="no hello within"):
        client.start()
    assert not client.running and not client_threads()


def test_the_client_needs_only_the_standard_library():
    code = (
        "import sys, latentdreamer_addon.client; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'bpy', 'numpy', 'torch', 'latentdreamer'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
