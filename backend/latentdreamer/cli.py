"""The `latentdreamer` command: a thin dispatcher over one module per sub-command.

Each sub-command module exposes `add_arguments(parser)` and `run(args) -> int` and keeps
its heavy imports (torch, numba) inside `run`, so building the parser stays cheap and
`latentdreamer worker` does not pay for the training code (and vice versa).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from latentdreamer import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("latentdreamer.eval.command", "evaluate a trained model (sae, ...) and write JSON, markdown and contact sheets"),
    "train": ("latentdreamer.train.command", "train a model (sae, ...) from a JSON config, with exact resume"),
    "demo": ("latentdreamer.demo", "run the most complete job the backend can do on a shape it makes itself"),
    "generate": ("latentdreamer.generate_command", "image, six views or a mesh -> textured mesh (GLB/PLY/OBJ)"),
    "weights": ("latentdreamer.priors.weights_command", "see, download and verify the prior weights (Zero123++, normal ControlNet)"),
    "worker": ("latentdreamer.worker.server", "serve the Blender add-on: JSON-lines requests on stdin, events on stdout"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latentdreamer", description="Single image to textured 3D mesh.")
    parser.add_argument("--version", action="version", version=f"latentdreamer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name)
        # Argument definitions live next to the code; importing for --help is cheap enough
        # because heavy imports in those modules happen inside run().
        importlib.import_module(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
