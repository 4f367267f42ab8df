"""`latentdreamer batch --ray`: the same items, spread over Ray actors that keep the models warm.

One actor per GPU (or per `cpus_per_actor` cores on a CPU cluster) holds one `job.Models`
and runs items with the same `batch.run_items.run_item` the local mode uses, writing into the
output folder (which must be storage every node sees). Ray schedules the items; an item
whose actor fails (a crashed or lost worker, not a bad input: that is a failed record) is
retried once on another actor, then recorded as failed. Ctrl+C kills the actors, so the
cluster stops working on the batch; finished items are kept and a rerun resumes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from latentdreamer.batch.items import BatchItem
from latentdreamer.batch.run_items import run_item

RETRIES = 1


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def _ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray needs Ray: pip install 'latentdreamer[farm]' (or pip install ray)") from None
    return ray


def actor_plan(resources: dict[str, float], actors: int | None, cpus_per_actor: int) -> tuple[int, dict[str, float]]:
    """(how many actors, what each reserves): one per GPU when the cluster has GPUs, else one
    per `cpus_per_actor` cores; `actors` caps (or sets) the count."""
    gpus = int(resources.get("GPU", 0))
    if gpus:
        count, each = gpus, {"num_gpus": 1, "num_cpus": 1}
    else:
        count = max(1, int(resources.get("CPU", 1)) // max(1, cpus_per_actor))
        each = {"num_cpus": cpus_per_actor}
    return (min(count, actors) if actors else count), each


class _Runner:
    """The actor body: models loaded once per actor, thread settings for its reserved cores, and
    the actor's own environment read once (it is the edge of its process)."""

    def __init__(self, out: str, fmt: str, models_dir: str | None, threads: int) -> None:
        import os

        from latentdreamer import threads as thread_settings

        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        thread_settings.apply(thread_settings.ThreadPlan(threads, "Ray actor's reserved cores"))
        from latentdreamer.job import Models
        from latentdreamer.locations import Locations

        self.out, self.fmt = Path(out), fmt
        self.models = Models(Locations.from_environment(models_dir=models_dir))

    def run(self, item: BatchItem) -> dict[str, Any]:
        return run_item(item, self.out, self.fmt, self.models)


def run_ray(
    items: list[BatchItem],
    out: Path,
    fmt: str,
    models_dir: str | None,
    address: str,
    actors: int | None = None,
    cpus_per_actor: int = 2,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    """Every item through Ray; returns their records (as the local mode does)."""
    from tqdm import tqdm

    ray = _ray()
    try:
        ray.init(
            address=None if address == "auto" else address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False
        )
    except Exception as exc:  # a cluster that cannot be reached is the user's to fix, with Ray's words
        raise RayUnavailable(f"cannot connect to Ray at {address!r}: {exc}") from None
    count, each = actor_plan(ray.cluster_resources(), actors, cpus_per_actor)
    remote = ray.remote(**each)(_Runner)
    pool = [remote.remote(str(out.resolve()), fmt, models_dir, int(each["num_cpus"])) for _ in range(count)]
    print(f"Ray: {count} actor(s), each {each}", file=sys.stderr)
    records: dict[str, dict[str, Any]] = {}
    attempts = {item.name: 0 for item in items}
    pending: dict[Any, tuple[BatchItem, Any]] = {}
    queue = list(items)
    free = list(pool)
    try:
        with tqdm(total=len(items), desc="batch", unit="item", disable=quiet, file=sys.stderr) as bar:
            while queue or pending:
                while queue and free:
                    item, actor = queue.pop(0), free.pop(0)
                    attempts[item.name] += 1
                    pending[actor.run.remote(item)] = (item, actor)
                ready, _ = ray.wait(list(pending), num_returns=1)
                item, actor = pending.pop(ready[0])
                try:
                    records[item.name] = ray.get(ready[0])
                    free.append(actor)
                    bar.update(1)
                except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as exc:
                    replacement = remote.remote(str(out.resolve()), fmt, models_dir, int(each["num_cpus"]))
                    pool[pool.index(actor)] = replacement
                    free.append(replacement)
                    if attempts[item.name] <= RETRIES:
                        queue.append(item)
                    else:
                        records[item.name] = {
                            "name": item.name,
                            "status": "failed",
                            "settings": item.settings,
                            "error": f"its Ray worker failed twice: {exc}",
                            "hint": "see the Ray logs of the node it ran on",
                        }
                        bar.update(1)
    finally:
        for actor in pool:
            ray.kill(actor)
        ray.shutdown()
    return [records[item.name] for item in items if item.name in records]
