"""`latentdreamer train MODEL ...`: one sub-command per trainable model.

Each entry names a module with `add_arguments(parser)` and `run(args)`, as in cli/main.py, so a
new trainer (the LIN) is one line here.
"""

from __future__ import annotations

import argparse

from latentdreamer.cli import train_lin, train_lin_export, train_sae, train_sae_export
from latentdreamer.cli.subcommands import Commands, add_subcommands, run_subcommand

TRAINERS: Commands = {
    "sae": (train_sae, "train the signed-distance VAE on streamed random shapes"),
    "sae-export": (train_sae_export, "export an SAE run's checkpoint as shipped weights with its model card"),
    "lin": (train_lin, "train the latent initialisation network against a frozen SAE"),
    "lin-export": (
        train_lin_export,
        "export a LIN run's checkpoint as shipped weights with its model card (names its SAE)",
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subcommands(parser, TRAINERS, "model", "MODEL")


def run(args: argparse.Namespace) -> int:
    return run_subcommand(args, "model")
