"""`latentdreamer train lin-export`: a LIN run's checkpoint -> shipped weights + model card.

The card says what the LIN pairs with (the SAE's sha256; `load_lin` refuses any other SAE),
how it was trained (every command, steps, shapes, wall time, hardware, data) and how good
its zero-step latents are (the JSON `latentdreamer eval lin` wrote).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", type=Path, required=True, help="LIN training run directory (holds checkpoint.json)")
    parser.add_argument("--out", type=Path, default=None, help="weights file (default: the package's weights/lin.safetensors)")
    parser.add_argument("--eval", type=Path, default=None, help="lin_eval.json written by `latentdreamer eval lin`")


def readable_card(card: dict, evaluation: dict) -> str:
    """The model card for people (name.md beside the weights): what it is, how it was made, the scores."""
    from latentdreamer.eval.lin import markdown

    t = card["training"]
    lines = [
        "# LIN model card",
        "",
        card["description"] + ".",
        "",
        f"- Parameters: {card['parameters']:,}; inputs: {card['inputs']}.",
        f"- Pairs with the SAE whose weights have sha256 `{card['sae']['sha256']}` (load_lin refuses any other).",
        f"- Training: {t['steps']} steps, {t['shapes_seen']} random shapes, {t['wall_seconds'] / 60:.0f} min on "
        f"{card['hardware'].get('cpu', '?')} ({card['hardware'].get('torch_threads')} torch thread(s)); no public data set.",
        f"- Commands: {'; '.join(r['command'] for r in t['commands'])}.",
        f"- Resume: `{t['resume']}`.",
        "",
        "",
    ]
    return "\n".join(lines) + markdown(evaluation).replace("# LIN evaluation", "## Evaluation", 1)


def run(args: argparse.Namespace) -> int:
    from latentdreamer.models.checkpoint import META
    from latentdreamer.models.lin import DEFAULT_LIN_WEIGHTS, export_lin, load_lin_checkpoint
    from latentdreamer.models.sae import count_parameters
    from latentdreamer.models.weights_file import code_commit, hardware_description
    from latentdreamer.train.sae import EVAL_SEED_BASE

    meta = json.loads((args.run / META).read_text())
    model, sae = load_lin_checkpoint(args.run)
    evaluation = json.loads(args.eval.read_text()) if args.eval else None
    if evaluation and evaluation.get("sae_sha256") != sae["sha256"]:
        raise SystemExit(
            f"{args.eval} scored this LIN with another SAE ({evaluation.get('sae_sha256')}); re-run `latentdreamer eval lin`"
        )
    steps, train = meta["step"], meta["train"]
    card = {
        "description": "LIN: six normal maps + masks (or masks only) in the Zero123++ v1.2 cameras -> SAE latent (8x8^3)"
        + (
            ", as a correction to the SAE encoding of the masks' visual hull (models.lin.hull_latent)"
            if model.config.residual == "hull"
            else ""
        )
        + "; trained only on random geometry",
        "parameters": count_parameters(model),
        "inputs": f"(B, 6, {model.config.image_size}, {model.config.image_size}) masks + encoded camera-space normals, "
        "row 0 at the bottom (render convention); normals optional",
        "sae": {"sha256": sae["sha256"], "trained_against": sae["path"], "history": meta.get("sae_history", [])},
        "training": {
            "commands": meta.get("runs", []),
            "steps": steps,
            "shapes_seen": steps * train["batch_size"],
            "wall_seconds": round(meta.get("wall_seconds", 0.0), 1),
            "config": train,
            "data_config": meta["data"],
            "resume": f"latentdreamer train lin --config configs/lin/lin.json --out {args.run} --resume --steps N",
        },
        "data": {
            "generator": "latentdreamer.geometry.random_shapes.random_sdf (default RandomShapeConfig), views traced by "
            "latentdreamer.render.sdf_views in jittered prior cameras, degraded by latentdreamer.train.lin_data",
            "seeds": f"random_sdf(step * batch + i) for seeds 0..{steps * train['batch_size'] - 1}",
            "eval_seeds": f">= {EVAL_SEED_BASE} (never used in training)",
            "public_datasets": "none",
        },
        "hardware": next(
            (r["hardware"] for r in reversed(meta.get("runs", [])) if "hardware" in r),
            {**hardware_description(), "torch_threads": train["threads"]},
        ),
        "code_commit": code_commit(),
        "metrics": evaluation,
        "last_training_eval": meta.get("last_eval"),
    }
    out = args.out or DEFAULT_LIN_WEIGHTS
    card_path = export_lin(model, out, sae["sha256"], card)
    written = json.loads(card_path.read_text())["sha256"]
    if evaluation and evaluation.get("lin_sha256") != written:
        export_lin(model, out, sae["sha256"], {**card, "metrics": None})
        raise SystemExit(
            f"{args.eval} scored other LIN weights ({evaluation.get('lin_sha256')}), not these ({written}): wrote the card "
            f"without metrics; run `latentdreamer eval lin --weights {out}` and export again with --eval"
        )
    if evaluation:
        out.with_suffix(".md").write_text(readable_card(card, evaluation))
    print(
        f"wrote {out} and {card_path} (step {steps}, {out.stat().st_size / 1e6:.1f} MB, pairs with SAE {sae['sha256'][:16]}...)"
    )
    return 0
