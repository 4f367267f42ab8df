"""Batch throughput: items per minute at `draft`, locally and on Ray with 1 and 2 actors, in one run.

    .venv-backend/bin/python benchmarks/bench_batch.py [--items 6] [--preset draft]

The items are six-view sets of seeded random objects (made once by the backend). Each
condition is one `latentdreamer batch` process over all items into a fresh folder:

- local:            no Ray, one process, every core (the baseline of the ratios);
- ray, 1 actor:     one actor reserving every core;
- ray, 2 actors:    two actors, each reserving half the cores (one thread each on 2 cores).

Printed: wall seconds, items per minute, and the ratio to local. On a 2-core machine two
actors can at best match one that uses both cores well; on a GPU farm each actor is a GPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--preset", default="draft")
    args = parser.parse_args()
    from latentdreamer.api import Callbacks, GenerateSettings
    from latentdreamer.geometry.example_object import example_object
    from latentdreamer.io.mesh_io import save_mesh
    from latentdreamer.job import JobInputs, Models, make_views

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="ld-bench-batch-") as tmp:
        root = Path(tmp)
        for i in range(args.items):
            mesh = root / f"object_{i}.glb"
            save_mesh(example_object(seed=10 + i), mesh)
            make_views(
                JobInputs(mesh=mesh), GenerateSettings(preset="tiny"), root / "sets" / f"object_{i}", Callbacks(), Models()
            )
        conditions = [("local", []), ("ray, 1 actor", ["--ray", "auto", "--actors", "1", "--cpus-per-actor", str(cores)])]
        if cores >= 2:
            conditions.append(("ray, 2 actors", ["--ray", "auto", "--actors", "2", "--cpus-per-actor", str(cores // 2)]))
        results = []
        for n, (name, extra) in enumerate(conditions):
            start = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "latentdreamer",
                    "batch",
                    str(root / "sets"),
                    "--out",
                    str(root / f"out{n}"),
                    "--preset",
                    args.preset,
                    "--quiet",
                    *extra,
                ],
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
            results.append((name, wall))
    base = results[0][1]
    print(f"{args.items} items at {args.preset}; {cores} cores")
    print(f"{'condition':<15} {'wall s':>8} {'items/min':>10} {'speed vs local':>15}")
    for name, wall in results:
        print(f"{name:<15} {wall:>8.1f} {args.items * 60 / wall:>10.2f} {base / wall:>15.2f}")


if __name__ == "__main__":
    main()
