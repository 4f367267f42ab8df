"""threads: passive waiting and no more threads than free cores, chosen by the backend itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from latentdreamer import threads


@pytest.mark.parametrize("busy, expected", [(0.0, 2), (0.3, 2), (0.7, 1), (1.0, 1), (1.9, 1), (5.0, 1)])
def test_one_thread_per_free_core_on_two_cores(busy, expected):
    assert threads.plan_threads(None, 2, busy).threads == expected


def test_plan_on_a_larger_machine_and_the_override():
    assert threads.plan_threads(None, 16, 3.2).threads == 13
    plan = threads.plan_threads(4, 2, 9.0)
    assert plan.threads == 4 and plan.reason == "LATENTDREAMER_THREADS=4"


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("auto", None), (" 3 ", 3)])
def test_parse_override(value, expected):
    assert threads.parse_override(value) == expected


@pytest.mark.parametrize("value", ["0", "-2", "many", "1.5"])
def test_a_bad_override_says_what_to_give(value):
    with pytest.raises(ValueError, match="positive number of threads, or 'auto'"):
        threads.parse_override(value)


def test_busy_cores_sees_a_busy_process():
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert threads.busy_cores(0.5) > 0.6
    finally:
        burner.kill()
        burner.wait()


CHILD = """
import json, os, sys
from latentdreamer import threads
plan = threads.configure_process(threads.parse_override(os.environ.get("LATENTDREAMER_THREADS")), one_shot=True)
import numba, torch
print(json.dumps({"plan": plan.threads, "torch": torch.get_num_threads(), "numba": numba.get_num_threads(),
                  "wait": os.environ["OMP_WAIT_POLICY"], "blocktime": os.environ["KMP_BLOCKTIME"]}))
"""


def _child(**env: str) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "KMP_BLOCKTIME", threads.ENV_THREADS)
    }
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env={**clean, **env}, check=True)
    return json.loads(out.stdout)


def test_a_process_configured_before_torch_loads_waits_passively_with_the_planned_pools():
    got = _child(LATENTDREAMER_THREADS="1")
    assert got == {"plan": 1, "torch": 1, "numba": 1, "wait": "PASSIVE", "blocktime": "0"}


def test_the_users_own_openmp_setting_is_kept():
    assert _child(OMP_WAIT_POLICY="ACTIVE", LATENTDREAMER_THREADS="1")["wait"] == "ACTIVE"


def test_the_cli_refuses_a_bad_override_without_a_traceback():
    env = {**os.environ, "LATENTDREAMER_THREADS": "lots"}
    out = subprocess.run([sys.executable, "-m", "latentdreamer", "weights", "status"], capture_output=True, text=True, env=env)
    assert out.returncode == 2 and "positive number of threads" in out.stderr and "Traceback" not in out.stderr


def test_small_ops_run_on_one_thread_and_restore_the_pools(monkeypatch):
    import numba
    import torch

    monkeypatch.setattr(threads, "_override", None)
    before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(2)
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    sizes = torch.get_num_threads(), numba.get_num_threads()
    try:
        with threads.small_ops():
            assert (torch.get_num_threads(), numba.get_num_threads()) == (1, 1)
        assert (torch.get_num_threads(), numba.get_num_threads()) == sizes
        monkeypatch.setattr(threads, "_override", 2)  # the user's count is kept inside
        with threads.small_ops():
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
