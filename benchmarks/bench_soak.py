"""Soak: many jobs through one warm worker, watching what must not grow.

    .venv-backend/bin/python benchmarks/bench_soak.py [--jobs 50] [--baseline 5] [--preset tiny]

One `latentdreamer worker` (as the add-on starts it: pipes, its own temporary jobs folder)
gets `--jobs` generate requests one after another on the six oracle views of the demo's
object. After each result the worker process is measured from /proc: resident memory,
threads, open file descriptors, job folders in its jobs root and part files anywhere in it,
and the temporary `latentdreamer-worker-*` folders under this run's TMPDIR. The baseline is
the first `--baseline` jobs of the same run (memory is allowed to settle there: caches,
numba, torch's allocator); a leak shows as the last jobs drifting away from it. At the end
the worker is shut down and the temporary folders counted again (expected: none).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from example_views import example_views

ROOT = Path(__file__).resolve().parents[1]


def proc_status(pid: int) -> dict[str, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {
        "rss_mb": int(fields["VmRSS"].split()[0]) // 1024,
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


class Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "latentdreamer", "worker", "--log-file", ""],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.events: list[dict] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            with self._cond:
                self.events.append(json.loads(raw))
                self._cond.notify_all()

    def wait_for(self, request_id: str | None, kinds: tuple[str, ...], timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if event.get("id") == request_id and event["type"] in kinds:
                        self.events.remove(event)
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise SystemExit(f"no {kinds} for {request_id}; worker exit {self.proc.poll()}")
                self._cond.wait(left)

    def send(self, message: dict) -> None:
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--baseline", type=int, default=5, help="first jobs whose mean is the baseline")
    parser.add_argument("--preset", default="tiny")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ld-soak-") as tmp:
        root = Path(tmp)
        views = example_views(root, 3)
        files = [str(views / f"rgb_{k}.png") for k in range(6)]
        normals = [str(views / f"normal_{k}.png") for k in range(6)]
        temp_parent = root / "tmp"
        temp_parent.mkdir()
        env = {**os.environ, "TMPDIR": str(temp_parent)}
        worker = Worker(env)
        hello = worker.wait_for(None, ("hello",), 120)
        jobs_root = Path(hello["jobs_dir"])
        rows = []
        print(f"worker {hello['pid']}, {args.jobs} jobs at preset {args.preset}, baseline = mean of jobs 1-{args.baseline}")
        print(f"{'job':>4} {'s':>6} {'rss MB':>7} {'threads':>7} {'fds':>4} {'job dirs':>8} {'parts':>5} {'tmp roots':>9}")
        for n in range(1, args.jobs + 1):
            start = time.monotonic()
            worker.send(
                {
                    "type": "generate",
                    "id": f"soak-{n}",
                    "views": {"files": files},
                    "normals": {"files": normals},
                    "settings": {"preset": args.preset, "seed": n},
                }
            )
            end = worker.wait_for(f"soak-{n}", ("result", "error", "cancelled"))
            if end["type"] != "result":
                raise SystemExit(f"job {n} ended in {end}")
            row = {
                "job": n,
                "s": time.monotonic() - start,
                **proc_status(worker.proc.pid),
                "job_dirs": sum(1 for p in jobs_root.iterdir() if p.is_dir()),
                "parts": sum(1 for p in jobs_root.rglob("*") if ".part" in p.name),
                "tmp_roots": sum(1 for p in temp_parent.iterdir() if p.name.startswith("latentdreamer-worker-")),
            }
            rows.append(row)
            print(
                f"{n:>4} {row['s']:>6.2f} {row['rss_mb']:>7} {row['threads']:>7} {row['fds']:>4} {row['job_dirs']:>8} "
                f"{row['parts']:>5} {row['tmp_roots']:>9}"
            )
            worker.events.clear()
        worker.send({"type": "shutdown", "id": "bye"})
        worker.wait_for("bye", ("bye",), 120)
        code = worker.proc.wait(60)
        left = sorted(p.name for p in temp_parent.iterdir())

    base = rows[: args.baseline]
    tail = rows[-args.baseline :]

    def mean(key: str, part: list[dict]) -> float:
        return statistics.fmean(r[key] for r in part)

    print()
    print(f"{'':>22} {'first':>7} {'last':>7} {'max':>7} {'baseline':>9} {'last 5':>7}")
    for key, label in (
        ("rss_mb", "RSS (MB)"),
        ("threads", "threads"),
        ("fds", "open files"),
        ("job_dirs", "job folders"),
        ("parts", "part files"),
        ("tmp_roots", "temp roots"),
        ("s", "seconds/job"),
    ):
        print(
            f"{label:>22} {rows[0][key]:>7.1f} {rows[-1][key]:>7.1f} {max(r[key] for r in rows):>7.1f} "
            f"{mean(key, base):>9.1f} {mean(key, tail):>7.1f}"
        )
    print(f"worker exit status {code}; left in TMPDIR after shutdown: {left or 'nothing'}")


if __name__ == "__main__":
    main()
