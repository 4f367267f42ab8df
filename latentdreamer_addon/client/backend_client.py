"""The worker process, its two reader threads, and the request/event bookkeeping.

Threads: one reads stdout (events), one reads stderr (kept as a short tail for error
messages, and logged at debug level). Both end when the process's pipes close, and
`close()` joins them: Blender waits for leftover threads at exit.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

PROTOCOL_VERSION = 1
"""Must equal the worker's `latentdreamer.worker.protocol.PROTOCOL_VERSION`."""

TERMINAL_EVENTS = frozenset({"result", "cancelled", "error", "pong", "ack", "bye"})

log = logging.getLogger(__name__)


class BackendError(RuntimeError):
    """The worker could not be used; the message says why and what to do."""


class WorkerStartError(BackendError):
    """The worker exited or stayed silent before its `hello`."""


class ProtocolMismatchError(BackendError):
    """The worker speaks another protocol version than this client."""


def default_command() -> list[str]:
    python = os.environ.get("LATENTDREAMER_BACKEND_PYTHON") or sys.executable
    return [python, "-m", "latentdreamer.worker"]


class _Worker:
    """One worker process and the threads reading its pipes."""

    def __init__(self, proc: subprocess.Popen, stderr_lines: int) -> None:
        self.proc = proc
        self.hello: dict | None = None
        self.hello_seen = threading.Event()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=stderr_lines)
        self.stdout_thread: threading.Thread | None = None
        self.stderr_thread: threading.Thread | None = None
        self.stopping = False  # the client ends it: its exit is not news

    def describe_exit(self) -> str:
        code = self.proc.poll()
        text = f"the backend worker (pid {self.proc.pid}) exited with code {code}"
        if self.stderr_tail:
            text += "; its last output:\n" + "\n".join(self.stderr_tail)
        return text


class BackendClient:
    def __init__(
        self,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        hello_timeout: float = 120.0,
        stderr_lines: int = 40,
    ) -> None:
        self.command = list(command) if command else default_command()
        self._env = env
        self._cwd = cwd
        self._hello_timeout = hello_timeout
        self._stderr_lines = stderr_lines
        self._lock = threading.RLock()
        self._events: queue.Queue[dict] = queue.Queue()
        self._held: collections.deque[dict] = collections.deque()
        self._pending: dict[str, str] = {}
        self._pending_lock = threading.Lock()
        self._worker: _Worker | None = None
        self._ids = itertools.count(1)
        self._tag = uuid.uuid4().hex[:6]
        self.hello: dict | None = None
        self.device: dict | None = None

    # -- life cycle -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        w = self._worker
        return w is not None and w.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._worker.proc.pid if self._worker else None

    def stderr_tail(self) -> list[str]:
        return list(self._worker.stderr_tail) if self._worker else []

    def start(self) -> dict:
        with self._lock:
            if self.running and self._worker.hello is not None:
                return self._worker.hello
            self._reap()
            env = None if self._env is None else {**os.environ, **self._env}
            kwargs: dict[str, Any] = {}
            if os.name == "posix":
                kwargs["start_new_session"] = True  # Ctrl+C in Blender's terminal is not for the worker
            else:
                kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
            try:
                proc = subprocess.Popen(
                    self.command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                    cwd=self._cwd,
                    **kwargs,
                )
            except OSError as exc:
                raise WorkerStartError(f"cannot start the backend worker {self.command!r}: {exc}") from exc
            worker = _Worker(proc, self._stderr_lines)
            worker.stdout_thread = threading.Thread(
                target=self._read_events, args=(worker,), name="latentdreamer-client-events", daemon=True
            )
            worker.stderr_thread = threading.Thread(
                target=self._read_stderr, args=(worker,), name="latentdreamer-client-stderr", daemon=True
            )
            self._worker = worker
            worker.stderr_thread.start()
            worker.stdout_thread.start()
            return self._handshake(worker)

    def _handshake(self, worker: _Worker) -> dict:
        deadline = time.monotonic() + self._hello_timeout
        while not worker.hello_seen.wait(0.05):
            if worker.proc.poll() is not None:
                worker.stdout_thread.join(5.0)
                if worker.hello is None:
                    self._stop(worker)
                    self._reap()
                    raise WorkerStartError(f"{worker.describe_exit()}\ncommand: {' '.join(self.command)}")
            if time.monotonic() > deadline:
                self._stop(worker)
                self._reap()
                raise WorkerStartError(
                    f"the backend worker sent no hello within {self._hello_timeout:.0f} s "
                    f"(command: {' '.join(self.command)})" + _tail(worker)
                )
        hello = worker.hello
        assert hello is not None
        if hello.get("protocol") != PROTOCOL_VERSION:
            self._stop(worker)
            self._reap()
            theirs = hello.get("protocol")
            older = "backend" if isinstance(theirs, int) and theirs < PROTOCOL_VERSION else "add-on"
            raise ProtocolMismatchError(
                f"the backend worker speaks protocol version {theirs} (backend {hello.get('backend_version')}), "
                f"this add-on speaks version {PROTOCOL_VERSION}; update the {older} so that both match"
            )
        self.hello = hello
        return hello

    def close(self, timeout: float = 15.0) -> None:
        """Shut the worker down (politely, then by force) and join the reader threads."""
        with self._lock:
            worker = self._worker
            if worker is None:
                return
            worker.stopping = True
            if worker.proc.poll() is None:
                try:
                    self._write(worker, {"type": "shutdown", "id": self._new_id("shutdown")})
                    worker.proc.stdin.close()
                except OSError:
                    pass
            self._stop(worker, timeout)
            self._reap()

    def __enter__(self) -> BackendClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _stop(self, worker: _Worker, timeout: float = 0.0) -> None:
        """Wait up to `timeout`, then SIGTERM, then SIGKILL; always reaps the process."""
        worker.stopping = True
        proc = worker.proc
        for step in ("wait", "terminate", "kill"):
            if step == "terminate":
                proc.terminate()
            elif step == "kill":
                proc.kill()
            try:
                proc.wait(timeout if step == "wait" else 5.0)
                break
            except subprocess.TimeoutExpired:
                continue

    def _reap(self) -> None:
        """Join the threads of a finished worker and close its pipes."""
        worker = self._worker
        if worker is None:
            return
        if worker.proc.poll() is None:
            return
        for thread in (worker.stdout_thread, worker.stderr_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(5.0)
        for pipe in (worker.proc.stdin, worker.proc.stdout, worker.proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass

    # -- requests -------------------------------------------------------------------------------
    def generate(self, **params: Any) -> str:
        return self._request("generate", params)

    def cancel(self, job_id: str) -> str:
        with self._lock:
            if not self.running:
                # No worker, no job: its `worker_died` was sent already. Do not start one for this.
                request_id = self._new_id("cancel")
                self._events.put(
                    {
                        "type": "error",
                        "id": request_id,
                        "code": "unknown_job",
                        "message": f"no worker is running, so no job {job_id!r} is either",
                        "hint": "its terminal event was sent already",
                    }
                )
                return request_id
        return self._request("cancel", {"job": job_id})

    def ping(self) -> str:
        return self._request("ping", {})

    def _new_id(self, kind: str) -> str:
        return f"{kind[0]}{next(self._ids)}-{self._tag}"

    def _request(self, kind: str, params: dict[str, Any]) -> str:
        with self._lock:
            if not self.running:
                self.start()
            worker = self._worker
            request_id = self._new_id(kind)
            message = {"type": kind, "id": request_id, **params}
            line = json.dumps(message)  # fails here, in the caller, for values JSON cannot carry
            with self._pending_lock:
                self._pending[request_id] = kind
            try:
                self._write_line(worker, line)
            except OSError:
                # The worker died just now; the event reader answers this id with worker_died.
                log.warning("could not send %s to the backend worker", kind)
            return request_id

    def _write(self, worker: _Worker, message: dict) -> None:
        self._write_line(worker, json.dumps(message))

    @staticmethod
    def _write_line(worker: _Worker, line: str) -> None:
        worker.proc.stdin.write(line.encode("utf-8") + b"\n")
        worker.proc.stdin.flush()

    # -- events ---------------------------------------------------------------------------------
    def poll(self) -> list[dict]:
        events = list(self._held)
        self._held.clear()
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    def iter_events(self, request_id: str | None = None, timeout: float | None = None) -> Iterator[dict]:
        while True:
            try:
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no event from the backend worker within {timeout} s") from None
            if request_id is not None and event.get("id") not in (request_id, None):
                self._held.append(event)
                continue
            yield event
            if request_id is not None and event.get("id") == request_id and event.get("type") in TERMINAL_EVENTS:
                return

    def _read_events(self, worker: _Worker) -> None:
        for raw in worker.proc.stdout:
            try:
                event = json.loads(raw)
                if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                    raise ValueError("not an event object")
            except ValueError:
                text = raw.decode("utf-8", "replace").rstrip()[:500]
                log.warning("the backend worker wrote a line that is not an event: %s", text)
                self._events.put(
                    {
                        "type": "error",
                        "id": None,
                        "code": "bad_event",
                        "message": f"the worker wrote a line that is not a protocol event: {text}",
                        "hint": "something in the backend printed to stdout; see its log",
                    }
                )
                continue
            if event["type"] == "hello" and worker.hello is None:
                worker.hello = event
                worker.hello_seen.set()
            elif event["type"] == "device":
                self.device = event
            if event["type"] in TERMINAL_EVENTS and event.get("id") is not None:
                with self._pending_lock:
                    self._pending.pop(event["id"], None)
            self._events.put(event)
        # stdout closed: the worker is exiting. Answer whatever it left unanswered.
        try:
            worker.proc.wait(10.0)
        except subprocess.TimeoutExpired:
            pass
        if worker.stderr_thread is not None:
            worker.stderr_thread.join(2.0)
        with self._pending_lock:
            orphans, self._pending = list(self._pending), {}
        if worker.stopping and not orphans:
            return
        message = worker.describe_exit()
        if not worker.stopping:
            log.warning("%s", message)
        hint = "the next request starts a new worker; see the worker log for the cause"
        for request_id in orphans or [None]:
            self._events.put(
                {
                    "type": "error",
                    "id": request_id,
                    "code": "worker_died",
                    "message": message,
                    "hint": hint,
                    "exit_code": worker.proc.poll(),
                }
            )

    def _read_stderr(self, worker: _Worker) -> None:
        for raw in worker.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            worker.stderr_tail.append(line)
            log.debug("worker: %s", line)


def _tail(worker: _Worker) -> str:
    return ("; its last output:\n" + "\n".join(worker.stderr_tail)) if worker.stderr_tail else ""
