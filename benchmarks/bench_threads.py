"""The pipeline on one thread (threads.small_ops, as shipped) against torch's and numba's
pools at the free cores, in one process, per development mesh.

    .venv-backend/bin/python benchmarks/bench_threads.py [--preset standard] [--meshes armchair cow_spot ...]
        [--repeats 1] [--threads 2]

For each mesh (oracle views of `shared/eval/meshes`), the variants alternate: "one"
runs `generate_from_views` as shipped (one thread inside), "pools" with --threads threads
(the user's override, which small_ops keeps). Printed per mesh: coarse steps, seconds per
coarse step and per object (medians over --repeats) and the ratio pools / one; then the
medians. Run it with nothing else busy: it measures what idle cores give.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--meshes", nargs="*", default=None, help="eval mesh names (default: all)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from latentdreamer import threads

    threads.apply(threads.configure_process())
    import torch

    from latentdreamer.api import GenerateSettings
    from latentdreamer.io.eval_meshes import default_eval_root, find_eval_meshes
    from latentdreamer.locations import Locations
    from latentdreamer.pipeline.generate import generate_from_views
    from latentdreamer.pipeline.oracle_views import load_oracle_mesh, oracle_views
    from latentdreamer.pipeline.shape_prior import load_shape_prior

    prior = load_shape_prior(torch.device("cpu"), Locations.from_environment())
    entries = [e for e in find_eval_meshes(default_eval_root()) if args.meshes is None or e.name in args.meshes]
    settings = GenerateSettings(preset=args.preset, device="cpu")
    generate_from_views(
        oracle_views(load_oracle_mesh(entries[0]), resolution=64)[1], GenerateSettings(preset="tiny", device="cpu"), prior=prior
    )  # warm-up: numba JIT and caches
    variants = {"one": None, "pools": args.threads}
    print(f"preset {args.preset}; 'pools' = {args.threads} threads; {len(entries)} meshes; {args.repeats} repeat(s)")
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for entry in entries:
        _, views = oracle_views(load_oracle_mesh(entry), resolution=256)
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, count in variants.items():
                threads.apply(threads.configure_process(count))  # None: as shipped
                started = time.perf_counter()
                result = generate_from_views(views, settings, prior=prior)
                seconds = time.perf_counter() - started
                steps = int(result.stats["iterations_coarse"])
                runs[name].append((seconds, result.timings["coarse"] / max(steps, 1), steps))
        line = f"{entry.name:>16}"
        for name, got in runs.items():
            s, per_step = statistics.median(r[0] for r in got), statistics.median(r[1] for r in got)
            rows[name].append((s, per_step))
            line += f" | {name}: {statistics.median(r[2] for r in got):.0f} steps, {per_step * 1000:5.1f} ms/step, {s:5.1f} s"
        print(f"{line} | pools / one: {rows['pools'][-1][0] / rows['one'][-1][0]:.2f}x per object", flush=True)
    for name in variants:
        print(
            f"{name}: median {statistics.median(r[0] for r in rows[name]):.1f} s per object, "
            f"{statistics.median(r[1] for r in rows[name]) * 1000:.1f} ms per coarse step"
        )
    step_ratio = statistics.median(p[1] / o[1] for p, o in zip(rows["pools"], rows["one"], strict=True))
    print(f"per coarse step, pools / one: median {step_ratio:.2f}x")


if __name__ == "__main__":
    main()
