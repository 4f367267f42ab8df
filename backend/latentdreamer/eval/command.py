"""`latentdreamer eval MODEL ...`: one sub-command per evaluated model (as train/command.py)."""

from __future__ import annotations

import argparse

from latentdreamer.cli import add_subcommands, run_subcommand

EVALUATORS: dict[str, tuple[str, str]] = {
    "sae": ("latentdreamer.eval.sae_cli", "SAE round trip on unseen random shapes and the evaluation meshes"),
    "lin": ("latentdreamer.eval.lin_cli", "LIN latent quality with zero optimisation steps, with normals and masks only"),
    "generate": ("latentdreamer.eval.generate_cli", "the whole pipeline on meshes rendered into the six views, with ablations"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subcommands(parser, EVALUATORS, "model", "MODEL")


def run(args: argparse.Namespace) -> int:
    return run_subcommand(args, "model")
