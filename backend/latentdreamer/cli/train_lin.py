"""Arguments of `latentdreamer train lin`; torch is imported only when the command runs."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", required=True, help="JSON file with 'model', 'data' and 'train' sections (configs/lin/*.json)"
    )
    parser.add_argument("--out", required=True, help="run directory: checkpoint, metrics.jsonl, SAE snapshot")
    parser.add_argument(
        "--sae",
        default=None,
        help="SAE to train against: a .safetensors with its card, or an SAE training run directory (snapshotted "
        "into --out). Default: the run's snapshot when resuming, else the shipped SAE",
    )
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    parser.add_argument(
        "--retarget-sae", action="store_true", help="allow resuming against a different SAE (fine-tunes towards it)"
    )
    parser.add_argument("--steps", type=int, default=None, help="train until this total step count (default: the config's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")


def run(args: argparse.Namespace) -> int:
    import json
    import shlex
    import sys
    from dataclasses import asdict
    from pathlib import Path

    from latentdreamer.train.lin import LINTrainConfig, LINTrainer, load_config, resolve_sae

    model_cfg, data_cfg, train_cfg = load_config(args.config)
    if args.steps is not None:
        train_cfg = LINTrainConfig.from_dict({**asdict(train_cfg), "steps": args.steps})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["latentdreamer", *sys.argv[1:]])
    trainer = LINTrainer(
        model_cfg,
        data_cfg,
        train_cfg,
        out,
        resolve_sae(args.sae, out),
        resume=args.resume,
        retarget_sae=args.retarget_sae,
        command=command,
    )
    last = trainer.train_until(trainer.train_cfg.steps, progress=not args.no_progress)
    print(json.dumps({"step": trainer.step, **last}), flush=True)
    return 0
