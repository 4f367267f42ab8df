"""A real worker process to talk to: `python -m latentdreamer.worker` on pipes, as the add-on runs it."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TERMINAL = {"result", "cancelled", "error", "pong", "ack", "bye"}


class PipedProcess:
    """A process speaking the worker protocol on its pipes: JSON lines read by a thread into a
    queue (and kept in `raw` and `seen`), stderr read by another. Shared by the worker tests
    (`WorkerProcess`) and the fault suite (`fault_support.Worker`)."""

    kinds: frozenset[str] = frozenset(TERMINAL)
    """The event types `until` stops at by default."""
    timeout: float = 60.0

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path | None = None, preexec_fn=None) -> None:
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, preexec_fn=preexec_fn
        )
        self.raw: list[bytes] = []
        self.seen: list[dict] = []
        self.stderr: list[str] = []
        self._events: queue.Queue = queue.Queue()
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        for raw in self.proc.stdout:
            self.raw.append(raw)
            self._events.put(json.loads(raw))
        self._events.put(None)

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode(errors="replace"))

    @property
    def stderr_text(self) -> str:
        return "".join(self.stderr)

    def wait_for_stderr(self, text: str, timeout: float = 10.0) -> bool:
        """Whether `text` reaches the worker's stderr within `timeout` s: stderr is read by a
        thread, so what the worker wrote just before an event may not be in `stderr` yet."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr_text:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def send(self, message) -> None:
        line = message if isinstance(message, (str, bytes)) else json.dumps(message)
        if isinstance(line, str):
            line = line.encode()
        self.proc.stdin.write(line.rstrip(b"\n") + b"\n")
        self.proc.stdin.flush()

    def next(self, timeout: float | None = None) -> dict | None:
        """The next event (None once stdout closed); fails the test after `timeout` s."""
        timeout = self.timeout if timeout is None else timeout
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s; stderr:\n{''.join(self.stderr[-20:])}") from None
        if event is not None:
            self.seen.append(event)
        return event

    def until(self, request_id: str | None, kinds=None, timeout: float | None = None, on_event=None) -> list[dict]:
        """Events up to and including the first of `kinds` for `request_id`; `on_event` sees each."""
        kinds = self.kinds if kinds is None else kinds
        seen, deadline = [], time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            event = self.next(max(0.1, deadline - time.monotonic()))
            assert event is not None, f"worker closed stdout; seen {seen}; stderr:\n{''.join(self.stderr[-20:])}"
            seen.append(event)
            if on_event is not None:
                on_event(event)
            if event.get("id") == request_id and event["type"] in kinds:
                return seen

    def request(self, message: dict, timeout: float | None = None, on_event=None) -> dict:
        self.send(message)
        return self.until(message.get("id"), timeout=timeout, on_event=on_event)[-1]

    def wait(self, timeout: float = 15.0) -> int:
        return self.proc.wait(timeout)

    def close(self) -> int:
        """Close stdin (the worker's signal to exit), wait, kill if it hangs; the exit status."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                pipe.close()
        return self.proc.returncode


class WorkerProcess(PipedProcess):
    """`python -m latentdreamer.worker` running `fake_pipeline` unless told otherwise."""

    def __init__(
        self,
        *args: str,
        pipeline: str | None = "fake_pipeline:slow",
        env: dict | None = None,
        command: list[str] | None = None,
        probe: bool = False,
    ):
        cmd = (command or [sys.executable, "-m", "latentdreamer.worker"]) + ["--log-file", "", *args]
        if not probe:  # tests start many workers: no torch (and no warm-up) at start-up unless asked
            cmd.append("--no-probe")
        if pipeline:
            cmd += ["--pipeline", pipeline]
        full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]), **(env or {})}
        super().__init__(cmd, full_env)
        self.hello = self.next(30)
        assert self.hello["type"] == "hello", self.hello


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
