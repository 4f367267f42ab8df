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
    "batch": ("latentdreamer.batch_command", "many generate jobs from a folder or a manifest, resumable, locally or on Ray"),
    "weights": (
        "latentdreamer.priors.weights_command",
        "see, download and verify the prior weights (Zero123++, normal ControlNet)",
    ),
    "worker": ("latentdreamer.worker.server", "serve the Blender add-on: JSON-lines requests on stdin, events on stdout"),
}


def add_subcommands(parser: argparse.ArgumentParser, commands: dict[str, tuple[str, str]], dest: str, metavar: str) -> None:
    """One sub-parser per table entry; `latentdreamer`, `train` and `eval` all dispatch this way."""
    sub = parser.add_subparsers(dest=dest, required=True, metavar=metavar)
    for name, (module_name, help_text) in commands.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(**{f"_{dest}_module": module_name})
        # Argument definitions live next to the code; importing for --help is cheap enough
        # because heavy imports in those modules happen inside run().
        importlib.import_module(module_name).add_arguments(p)


def run_subcommand(args: argparse.Namespace, dest: str) -> int:
    """Run the module `add_subcommands` recorded for the chosen `dest` entry."""
    return int(importlib.import_module(getattr(args, f"_{dest}_module")).run(args) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latentdreamer", description="Single image to textured 3D mesh.")
    parser.add_argument("--version", action="version", version=f"latentdreamer {__version__}")
    add_subcommands(parser, COMMANDS, "command", "COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, choose this process's thread settings (before torch loads), run the command."""
    import os

    from latentdreamer import threads

    args = build_parser().parse_args(argv)
    try:
        override = threads.parse_override(os.environ.get(threads.ENV_THREADS))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    threads.configure_process(override, one_shot=args.command != "worker")
    return _run_reporting_errors(args)


class Interrupted(KeyboardInterrupt):
    """Ctrl+C or SIGTERM. A subclass, because CPython exits by SIGINT (status -2, whatever we
    return) once a plain KeyboardInterrupt has passed through code run by PyRun_String in a
    library; code that catches KeyboardInterrupt still catches this."""


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signal_name(signum))


def signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def _run_reporting_errors(args: argparse.Namespace) -> int:
    """Every sub-command's user-facing errors (and the disk's) end in one message and exit code.

    A bad input, damaged weights or a full disk prints what is wrong and what to do, never
    a traceback; anything else is a bug and keeps its traceback.
    """
    import signal

    from latentdreamer.errors import UserFacingError, describe_os_error, exit_code, format_error

    if args.command != "worker":  # the worker has its own shutdown; here SIGTERM unwinds like Ctrl+C,
        for sig in (signal.SIGTERM, signal.SIGINT):  # so temporary files and folders are removed
            signal.signal(sig, _interrupt)
    try:
        return run_subcommand(args, "command")
    except UserFacingError as exc:
        print(format_error(exc), file=sys.stderr)
        return exit_code(exc)
    except OSError as exc:  # the disk or a folder said no, outside any more specific handler
        what, hint = describe_os_error(exc)
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: could not read or write{where}: {what} ({exc.strerror or exc})\n  hint: {hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if args.command != "worker":  # a signal now would only interrupt the interpreter's own shutdown
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
