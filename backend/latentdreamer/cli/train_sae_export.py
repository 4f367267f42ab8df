"""`latentdreamer train sae-export`: a training run's checkpoint -> shipped weights + model card.

The card gathers what a reader needs to trust or reproduce the weights: the architecture,
every command that trained them (one per resumed run), the data (the random-shape stream and
its seed range), steps, shapes seen, accumulated training wall time, hardware, and the
measured metrics, loss ablation and resolution comparison, each from the JSON its own command
wrote. The checksum is added by models/weights_file.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, required=True, help="training run directory (holds checkpoint.json)")
    parser.add_argument("--out", type=Path, default=None, help="weights file (default: the package's weights/sae.safetensors)")
    parser.add_argument(
        "--eval",
        type=Path,
        action="append",
        default=[],
        help="sae_eval.json written by `latentdreamer eval sae` (repeat to merge parts)",
    )
    parser.add_argument("--ablation", type=Path, default=None, help="JSON written by benchmarks/ablate_sae_losses.py")
    parser.add_argument(
        "--resolution-study", type=Path, default=None, help="JSON written by benchmarks/compare_sae_resolution.py"
    )
    parser.add_argument("--note", action="append", default=[], help="a remark for the card (repeatable)")
    parser.add_argument("--decoder-speed", type=Path, default=None, help="text printed by benchmarks/bench_sae_decoder.py")


GENERATORS = {
    "blocks": "latentdreamer.geometry.random_shapes.random_sdf (default RandomShapeConfig)",
    "thin": "latentdreamer.geometry.thin_shapes.thin_shape (default ThinShapeConfig), exact distances",
    "mixed": "latentdreamer.geometry.training_shapes 'mixed': random_sdf on even seeds, thin_shape on odd seeds",
}
"""A run's `shapes` (geometry/training_shapes.py) as the card's data line."""


def _json_or_none(path: Path | None):
    return json.loads(path.read_text()) if path else None


def run(args: argparse.Namespace) -> int:
    from latentdreamer.eval.sae import merge_reports
    from latentdreamer.models.checkpoint import META
    from latentdreamer.models.trained_sae import DEFAULT_SAE_WEIGHTS, export_sae, load_sae_checkpoint
    from latentdreamer.models.weights_file import code_commit, hardware_description
    from latentdreamer.train.sae import EVAL_SEED_BASE

    meta = json.loads((args.run / META).read_text())
    model = load_sae_checkpoint(args.run)
    train = meta["train"]
    steps = meta["step"]
    card = {
        "description": "SAE: signed-distance VAE, SDF grid <-> 8x8^3 latent; trained only on random geometry",
        "training": {
            "commands": meta.get("runs", []),
            "steps": steps,
            "shapes_seen": steps * train["batch_size"],
            "wall_seconds": round(meta.get("wall_seconds", 0.0), 1),
            "config": train,
            "resume": f"latentdreamer train sae --config <config> --out {args.run} --resume --steps N",
        },
        "data": {
            "generator": GENERATORS[train.get("shapes", "blocks")],
            "targets": train.get("targets", "grid"),
            "seeds": f"seeds 0..{steps * train['batch_size'] - 1} (step * batch + i) at {model.config.resolution}^3",
            "eval_seeds": f">= {EVAL_SEED_BASE} (never used in training)",
            "public_datasets": "none",
        },
        "initial_weights": meta.get("init"),
        "hardware": next((r["hardware"] for r in reversed(meta.get("runs", [])) if "hardware" in r), hardware_description()),
        "code_commit_at_export": code_commit(),
        "notes": args.note,
        "metrics": merge_reports([json.loads(p.read_text()) for p in args.eval]) if args.eval else None,
        "loss_ablation": _json_or_none(args.ablation),
        "resolution_study": _json_or_none(args.resolution_study),
        "decoder_speed": args.decoder_speed.read_text() if args.decoder_speed else None,
        "last_training_eval": meta.get("last_eval"),
    }
    out = args.out or DEFAULT_SAE_WEIGHTS
    card_path = export_sae(model, out, card)
    print(f"wrote {out} and {card_path} (step {steps}, {out.stat().st_size / 1e6:.1f} MB)")
    return 0
