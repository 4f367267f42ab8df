"""The step loop every trainer shares: progress bar, JSONL metrics, checkpoints, clean stop.

A trainer supplies `step` (finished steps), `meta` (the JSON that rides in checkpoints),
`train_step(step) -> metrics`, `quick_eval() -> metrics`, `save()` and a config with
`batch_size`, `log_every`, `eval_every` and `checkpoint_every`. Because each trainer makes
step s a pure function of (seed, s), the loop only has to save at step boundaries for a
resumed run to replay an uninterrupted one exactly.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any, Protocol


class Trainable(Protocol):
    out: Path
    step: int
    meta: dict[str, Any]
    train_cfg: Any

    def train_step(self, step: int) -> dict[str, float]: ...

    def quick_eval(self) -> dict[str, float]: ...

    def save(self) -> None: ...


def train_until(trainer: Trainable, total_steps: int, desc: str, progress: bool = True, lr: Any = None) -> dict[str, float]:
    """Run steps trainer.step .. total_steps-1, checkpointing on the way and at the end.

    SIGINT/SIGTERM finish the current step, save and return, so an interrupted run resumes
    exactly where it stopped. `lr(step)`, if given, is logged with each record.
    """
    from tqdm import tqdm

    cfg = trainer.train_cfg
    trainer.out.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    old = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
    bar = tqdm(total=total_steps, initial=trainer.step, disable=not progress, dynamic_ncols=True, desc=desc)
    last: dict[str, float] = {}
    t_run = time.perf_counter()
    try:
        with open(trainer.out / "metrics.jsonl", "a") as log:
            while trainer.step < total_steps and not stop.is_set():
                t0 = time.perf_counter()
                last = trainer.train_step(trainer.step)
                trainer.step += 1
                dt = time.perf_counter() - t0
                trainer.meta["wall_seconds"] = trainer.meta.get("wall_seconds", 0.0) + dt
                trainer.meta["shapes_seen"] = trainer.step * cfg.batch_size
                bar.update(1)
                bar.set_postfix(loss=f"{last['loss']:.4f}")
                record: dict[str, Any] = {}
                if trainer.step % cfg.log_every == 0 or trainer.step == total_steps:
                    record = {"step": trainer.step, **last, "s_per_step": dt}
                    if lr is not None:
                        record["lr"] = lr(trainer.step - 1)
                if cfg.eval_every and trainer.step % cfg.eval_every == 0:
                    evaluation = trainer.quick_eval()
                    record = {"step": trainer.step, **last, **evaluation}
                    trainer.meta["last_eval"] = {**evaluation, "step": trainer.step}
                if record:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                if trainer.step % cfg.checkpoint_every == 0:
                    trainer.save()
            trainer.save()
    finally:
        bar.close()
        for s, handler in old.items():
            signal.signal(s, handler)
    last["run_seconds"] = time.perf_counter() - t_run
    return last
