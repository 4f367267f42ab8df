"""Thread settings the backend chooses itself, so a busy machine does not slow it down.

torch and numba each keep a pool of worker threads. With OpenMP's default *active* waiting, a
pool's idle workers spin for a while after every parallel region, so on an artist's machine
— Blender's viewport or a render already on a core — the spinning threads fight the busy
process and each other: measured 3.5× slower beside one busy process on 2 cores, and 10–20×
at a load of about 4. Three settings remove that:

- passive waiting (`OMP_WAIT_POLICY=PASSIVE`, `KMP_BLOCKTIME=0`), which OpenMP reads once,
  when torch loads, so `configure_process` runs before any torch import: at the top of the
  CLI's and the worker's `main`;
- no more threads than there are free cores, measured from the machine's recent CPU use
  (`busy_cores`, `plan_threads`) when a process starts and, in the worker, again before every job;
- one thread for the optimisation stages (`small_ops`), whatever the free cores: their
  operations are small (a 40^3 grid, 20-60k points, 128^2 renders), and with passive
  waiting every one of them that torch splits across cores pays to wake the other thread.
  Measured on 2 idle cores (benchmarks/bench_threads.py, standard, four development meshes,
  2026-12-04): a coarse step takes 72 ms on one thread against 77 ms on two (median 1.11x),
  so the second core is left to Blender, and a busy machine costs the stages nothing.

The user's override is one setting, read once at the edge (`LATENTDREAMER_THREADS=N`, or
`--threads N` where a command has it): N threads whatever the load. A value of OpenMP's own
variables set by the user is kept.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

ENV_THREADS = "LATENTDREAMER_THREADS"
PASSIVE_ENV = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "KMP_BLOCKTIME": "0",
    # On Apple's MPS, operations Metal lacks run on the CPU instead of failing.
    "PYTORCH_ENABLE_MPS_FALLBACK": "1",
}


@dataclass(frozen=True)
class ThreadPlan:
    """How many threads torch and numba use, and why (shown in the worker's hello and logs)."""

    threads: int
    reason: str


def parse_override(value: str | None) -> int | None:
    """`LATENTDREAMER_THREADS` / `--threads`: a positive integer, or empty / "auto" for none."""
    if value is None or value.strip().lower() in ("", "auto"):
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV_THREADS}={value!r}: give a positive number of threads, or 'auto'")
    return n


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat; None where there is no such file."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(sample_s: float = 0.25) -> float:
    """Cores kept busy by other work just now: /proc/stat over `sample_s`, else the 1-minute
    load average (slower to follow a change, but everywhere)."""
    cores = os.cpu_count() or 1
    first = _cpu_times()
    if first is not None:
        time.sleep(sample_s)
        second = _cpu_times()
        if second is not None and second[1] > first[1]:
            return cores * (second[0] - first[0]) / (second[1] - first[1])
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def plan_threads(override: int | None, cores: int, busy: float) -> ThreadPlan:
    """One thread per free core (at least one); a core counts as taken once it is more than
    a third busy, so a light background task does not cost us a core."""
    if override is not None:
        return ThreadPlan(override, f"{ENV_THREADS}={override}")
    taken = min(cores - 1, math.floor(busy + 2 / 3))
    free = max(1, cores - taken)
    return ThreadPlan(free, f"{free} of {cores} cores free ({busy:.1f} busy)")


_override: int | None = None
"""The user's thread count for this process, set once by `configure_process`. Thread pools
are per process, so this is the one piece of process-wide state the backend keeps."""


def configure_process(override: int | None = None, one_shot: bool = True) -> ThreadPlan:
    """Passive waiting and thread counts for this process; call before torch is imported.

    A one-shot process (a CLI command) fixes its counts through the variables torch and numba
    read when they load. A long-lived worker leaves numba's pool at the core count and sizes
    both pools before every job (`before_job`), so a job started once the machine is idle
    again gets every core.
    """
    global _override
    _override = override
    for key, value in PASSIVE_ENV.items():
        os.environ.setdefault(key, value)
    plan = plan_threads(override, os.cpu_count() or 1, 0.0 if override is not None else busy_cores())
    if one_shot or override is not None:
        # Only for a library not loaded yet: numba refuses a changed NUMBA_NUM_THREADS once its
        # pool runs (a second command in one process, as tests do, would otherwise fail).
        for key, module in (("OMP_NUM_THREADS", "torch"), ("NUMBA_NUM_THREADS", "numba")):
            if module not in sys.modules:
                os.environ.setdefault(key, str(plan.threads))
    return plan


def configure_from_environment(environ: Mapping[str, str], one_shot: bool) -> ThreadPlan:
    """An edge's first step (the CLI's, the worker's): the user's `LATENTDREAMER_THREADS`
    from `environ`, then `configure_process`. A bad value raises ValueError with the message
    to show."""
    return configure_process(parse_override(environ.get(ENV_THREADS)), one_shot)


def apply(plan: ThreadPlan) -> None:
    """Size torch's and numba's pools by `plan` (numba's can only shrink below its start size)."""
    import numba
    import torch

    torch.set_num_threads(plan.threads)
    numba.set_num_threads(min(plan.threads, numba.config.NUMBA_NUM_THREADS))


def before_job() -> ThreadPlan:
    """The worker, before each job: a fresh plan from the load now (unless the user set the
    count), applied to both pools."""
    plan = plan_threads(_override, os.cpu_count() or 1, 0.0 if _override is not None else busy_cores(0.2))
    apply(plan)
    return plan


@contextmanager
def small_ops() -> Iterator[None]:
    """One torch and one numba thread inside (module docstring), the pools' sizes restored
    after; the user's count (`LATENTDREAMER_THREADS`) is kept instead where one was given."""
    import numba
    import torch

    if _override is not None:
        yield
        return
    before = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
