"""Arguments of `latentdreamer train sae`; torch is imported only when the command runs."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="JSON file with 'model' and 'train' sections (configs/sae/*.json)")
    parser.add_argument("--out", required=True, help="run directory: checkpoint, metrics.jsonl")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    parser.add_argument("--steps", type=int, default=None, help="train until this total step count (default: the config's)")
    parser.add_argument(
        "--change",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="on --resume, change a train setting that the checkpoint fixes (e.g. lr=3e-4); recorded in the checkpoint",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")


def run(args: argparse.Namespace) -> int:
    import json
    import shlex
    import sys
    from dataclasses import asdict

    from latentdreamer.train.sae import SAETrainConfig, SAETrainer, load_config

    model_cfg, train_cfg = load_config(args.config)
    if args.steps is not None:
        train_cfg = SAETrainConfig.from_dict({**asdict(train_cfg), "steps": args.steps})
    command = shlex.join(["latentdreamer", *sys.argv[1:]])
    changes = {}
    for item in args.change:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--change expects KEY=JSON, got {item!r}")
        changes[key] = json.loads(value)
    trainer = SAETrainer(model_cfg, train_cfg, args.out, resume=args.resume, command=command, changes=changes)
    last = trainer.train_until(trainer.train_cfg.steps, progress=not args.no_progress)
    print(json.dumps({"step": trainer.step, **last}), flush=True)
    return 0
