"""Fixtures for tests that talk to a real worker process (see worker_harness)."""

from __future__ import annotations

import pytest

from worker_harness import WorkerProcess


@pytest.fixture
def start_worker():
    started: list[WorkerProcess] = []

    def start(*args, **kwargs) -> WorkerProcess:
        w = WorkerProcess(*args, **kwargs)
        started.append(w)
        return w

    yield start
    for w in started:
        w.close()
        assert w.proc.returncode is not None
