"""`latentdreamer eval MODEL ...`: one sub-command per evaluated model (as cli/train.py)."""

from __future__ import annotations

import argparse

from latentdreamer.cli import eval_generate, eval_lin, eval_sae
from latentdreamer.cli.subcommands import Commands, add_subcommands, run_subcommand

EVALUATORS: Commands = {
    "sae": (eval_sae, "SAE round trip on unseen random shapes and the evaluation meshes"),
    "lin": (eval_lin, "LIN latent quality with zero optimisation steps, with normals and masks only"),
    "generate": (eval_generate, "the whole pipeline on meshes rendered into the six views, with ablations"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subcommands(parser, EVALUATORS, "model", "MODEL")


def run(args: argparse.Namespace) -> int:
    return run_subcommand(args, "model")
