"""`latentdreamer train MODEL ...`: one sub-command per trainable model.

Each entry names a module with `add_arguments(parser)` and `run(args)`, as in cli.py, so a
new trainer (the LIN) is one line here.
"""

from __future__ import annotations

import argparse
import importlib

TRAINERS: dict[str, tuple[str, str]] = {
    "sae": ("latentdreamer.train.sae_cli", "train the signed-distance VAE on streamed random shapes"),
    "sae-export": ("latentdreamer.train.export_sae", "export an SAE run's checkpoint as shipped weights with its model card"),
    "lin": ("latentdreamer.train.lin_cli", "train the latent initialisation network against a frozen SAE"),
    "lin-export": ("latentdreamer.train.export_lin", "export a LIN run's checkpoint as shipped weights with its model card (names its SAE)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, (module_name, help_text) in TRAINERS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_trainer=module_name)
        importlib.import_module(module_name).add_arguments(p)


def run(args: argparse.Namespace) -> int:
    return int(importlib.import_module(args._trainer).run(args) or 0)
