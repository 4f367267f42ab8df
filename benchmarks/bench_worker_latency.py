"""What the process boundary costs: time to the worker's hello, and a request's round trip.

Baselines from the same run: starting a bare Python that answers one line (the floor for
any out-of-process backend) and a line echoed through a bare Python (the floor for a round
trip over pipes). Hello must stay near the floor because the add-on waits for it; torch is
loaded later (the `device` event), compared with a bare `import torch`.

    .venv-backend/bin/python benchmarks/bench_worker_latency.py --repeats 5 --pings 200
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from latentdreamer_addon.client import BackendClient  # noqa: E402

WORKER = [sys.executable, "-m", "latentdreamer.worker", "--log-file", ""]
ECHO = "import sys\nprint('ready', flush=True)\nfor line in sys.stdin: print(line, end='', flush=True)"


def median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def time_to_hello(probe: bool) -> tuple[float, float | None]:
    client = BackendClient(WORKER + ([] if probe else ["--no-probe"]))
    start = time.perf_counter()
    client.start()
    hello = time.perf_counter() - start
    device = None
    if probe:
        for event in client.iter_events(timeout=120):
            if event["type"] == "device":
                device = time.perf_counter() - start
                break
    client.close()
    return hello, device


def bare_start() -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.stdin.close()
    proc.wait()
    return elapsed


def bare_import_torch() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - start


def ping_round_trips(pings: int) -> list[float]:
    client = BackendClient(WORKER + ["--no-probe"])
    client.start()
    samples = []
    for _ in range(pings):
        start = time.perf_counter()
        request = client.ping()
        for _event in client.iter_events(request, timeout=10):
            pass
        samples.append(time.perf_counter() - start)
    client.close()
    return samples


def echo_round_trips(pings: int) -> list[float]:
    proc = subprocess.Popen([sys.executable, "-c", ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    proc.stdout.readline()
    samples = []
    for _ in range(pings):
        start = time.perf_counter()
        proc.stdin.write(b'{"type": "ping", "id": "p"}\n')
        proc.stdin.flush()
        proc.stdout.readline()
        samples.append(time.perf_counter() - start)
    proc.stdin.close()
    proc.wait()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pings", type=int, default=200)
    args = parser.parse_args()

    bare = [bare_start() for _ in range(args.repeats)]
    hello = [time_to_hello(probe=False)[0] for _ in range(args.repeats)]
    torch_import = [bare_import_torch() for _ in range(args.repeats)]
    probed = [time_to_hello(probe=True) for _ in range(args.repeats)]
    pings, echoes = ping_round_trips(args.pings), echo_round_trips(args.pings)

    print(f"medians of {args.repeats} starts, {args.pings} round trips ({sys.executable})")
    print(
        f"  hello (--no-probe)          {median_ms(hello):8.0f} ms   bare python start {median_ms(bare):6.0f} ms"
        f"   ratio {statistics.median(hello) / statistics.median(bare):.2f}"
    )
    print(f"  hello (probe running)       {median_ms([h for h, _ in probed]):8.0f} ms")
    print(
        f"  device event (torch loaded) {median_ms([d for _, d in probed]):8.0f} ms   bare `import torch` "
        f"{median_ms(torch_import):6.0f} ms   ratio {statistics.median([d for _, d in probed]) / statistics.median(torch_import):.2f}"
    )
    print(
        f"  ping -> pong via the client {median_ms(pings):8.2f} ms   bare echo over pipes {median_ms(echoes):6.2f} ms"
        f"   ratio {statistics.median(pings) / statistics.median(echoes):.1f}"
    )


if __name__ == "__main__":
    main()
