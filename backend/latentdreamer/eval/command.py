"""`latentdreamer eval MODEL ...`: one sub-command per evaluated model (as train/command.py)."""

from __future__ import annotations

import argparse
import importlib

EVALUATORS: dict[str, tuple[str, str]] = {
    "sae": ("latentdreamer.eval.sae_cli", "SAE round trip on unseen random shapes and the evaluation meshes"),
    "lin": ("latentdreamer.eval.lin_cli", "LIN latent quality with zero optimisation steps, with normals and masks only"),
    "generate": ("latentdreamer.eval.generate_cli", "the whole pipeline on meshes rendered into the six views, with ablations"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, (module_name, help_text) in EVALUATORS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_evaluator=module_name)
        importlib.import_module(module_name).add_arguments(p)


def run(args: argparse.Namespace) -> int:
    return int(importlib.import_module(args._evaluator).run(args) or 0)
