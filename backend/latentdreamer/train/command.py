"""`latentdreamer train MODEL ...`: one sub-command per trainable model.

Each entry names a module with `add_arguments(parser)` and `run(args)`, as in cli.py, so a
new trainer (the LIN) is one line here.
"""

from __future__ import annotations

import argparse

from latentdreamer.cli import add_subcommands, run_subcommand

TRAINERS: dict[str, tuple[str, str]] = {
    "sae": ("latentdreamer.train.sae_cli", "train the signed-distance VAE on streamed random shapes"),
    "sae-export": ("latentdreamer.train.export_sae", "export an SAE run's checkpoint as shipped weights with its model card"),
    "lin": ("latentdreamer.train.lin_cli", "train the latent initialisation network against a frozen SAE"),
    "lin-export": (
        "latentdreamer.train.export_lin",
        "export a LIN run's checkpoint as shipped weights with its model card (names its SAE)",
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subcommands(parser, TRAINERS, "model", "MODEL")


def run(args: argparse.Namespace) -> int:
    return run_subcommand(args, "model")
