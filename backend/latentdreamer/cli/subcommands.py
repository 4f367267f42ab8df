"""Sub-command tables: `latentdreamer`, `latentdreamer train` and `latentdreamer eval` all
dispatch the same way, from a table of (module, help) entries."""

from __future__ import annotations

import argparse
from types import ModuleType

Commands = dict[str, tuple[ModuleType, str]]
"""name -> (a module with `add_arguments(parser)` and `run(args) -> int`, its help line)."""


def add_subcommands(parser: argparse.ArgumentParser, commands: Commands, dest: str, metavar: str) -> None:
    """One sub-parser per table entry; the chosen module is recorded for `run_subcommand`."""
    sub = parser.add_subparsers(dest=dest, required=True, metavar=metavar)
    for name, (module, help_text) in commands.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(**{f"_{dest}_module": module})
        module.add_arguments(p)


def run_subcommand(args: argparse.Namespace, dest: str) -> int:
    """Run the module `add_subcommands` recorded for the chosen `dest` entry."""
    return int(getattr(args, f"_{dest}_module").run(args) or 0)
