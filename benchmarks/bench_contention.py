"""The pipeline on idle cores and beside a competing busy process, in one run (issue: speed
on the machine an artist actually has).

    .venv-backend/bin/python benchmarks/bench_contention.py [--preset draft] [--repeats 3]
        [--competitors 1] [--seed 7]

Every measured run is a fresh `latentdreamer generate` process on the same six oracle views
of the demo's random object (made once, by the backend itself), so the thread settings are
exactly those a user gets. Conditions, each the median of --repeats runs:

- idle:            our defaults, nothing else running (the baseline of the ratios);
- busy:            our defaults, beside --competitors processes that each keep one core busy
                   (a pure-Python loop: Blender's viewport or a render stand-in);
- busy, old:       the settings we shipped before, reproduced explicitly (OpenMP's active
                   waiting, one thread per core whatever the load), beside the same load.

Printed per condition: the pipeline's own time (from its summary line), the whole process
wall time, and the ratio to idle. Target: busy / idle at most 1.3.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from example_views import example_views

PY = sys.executable


def run_generate(views: Path, preset: str, env: dict[str, str], out: Path) -> tuple[float, float]:
    """(pipeline seconds from the summary, process wall seconds) of one generate run."""
    rgb = [str(views / f"rgb_{k}.png") for k in range(6)]
    normals = [str(views / f"normal_{k}.png") for k in range(6)]
    start = time.perf_counter()
    proc = subprocess.run(
        [
            PY,
            "-m",
            "latentdreamer",
            "generate",
            "--view-files",
            *rgb,
            "--normal-files",
            *normals,
            "--preset",
            preset,
            "--quiet",
            "--overwrite",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"generate failed:\n{proc.stderr[-2000:]}")
    match = re.search(r"triangles in ([0-9.]+) s", proc.stderr)
    return (float(match.group(1)) if match else float("nan")), wall


def competitors(n: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([PY, "-c", "while True: pass"]) for _ in range(n)]
    time.sleep(1.0)  # let the load show in /proc/stat and the load average
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
        p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="draft")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--competitors", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "LATENTDREAMER_THREADS")
    }
    old = {**base, "OMP_WAIT_POLICY": "ACTIVE", "LATENTDREAMER_THREADS": str(os.cpu_count() or 1)}
    with tempfile.TemporaryDirectory(prefix="ld-contention-") as tmp:
        root = Path(tmp)
        views = example_views(root, args.seed)
        run_generate(views, "tiny", base, root / "warm.glb")  # numba caches, file caches
        print(
            f"{os.cpu_count()} cores; preset {args.preset}; {args.repeats} repeats; {args.competitors} competing busy process(es)"
        )
        results: dict[str, list[tuple[float, float]]] = {}
        for name, env, load in (("idle", base, 0), ("busy", base, args.competitors), ("busy, old", old, args.competitors)):
            procs = competitors(load)
            try:
                results[name] = [run_generate(views, args.preset, env, root / "out.glb") for _ in range(args.repeats)]
            finally:
                stop(procs)
    idle_pipe = statistics.median(r[0] for r in results["idle"])
    idle_wall = statistics.median(r[1] for r in results["idle"])
    print(f"{'condition':<12} {'pipeline s':>11} {'wall s':>8} {'pipeline / idle':>16} {'wall / idle':>12}")
    for name, runs in results.items():
        pipe = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        print(f"{name:<12} {pipe:>11.2f} {wall:>8.2f} {pipe / idle_pipe:>16.2f} {wall / idle_wall:>12.2f}")


if __name__ == "__main__":
    main()
