"""The `latentdreamer` command: a thin dispatcher over one module per sub-command.

Every sub-command is a module of this package named for it (`generate.py`, `eval_sae.py`
for `eval sae`, ...), exposing `add_arguments(parser)` and `run(args) -> int`, with its heavy
imports (torch, numba) inside `run`, so building the parser stays cheap and
`latentdreamer worker` does not pay for the training code. The worker's own module is
`worker/server.py`, the worker being the other application beside this one.
"""

from __future__ import annotations

import argparse
import sys

from latentdreamer import __version__
from latentdreamer.cli import batch, demo, generate, weights
from latentdreamer.cli import eval as eval_command
from latentdreamer.cli import train as train_command
from latentdreamer.cli.subcommands import Commands, add_subcommands, run_subcommand
from latentdreamer.worker import server

COMMANDS: Commands = {
    "eval": (eval_command, "evaluate a trained model (sae, ...) and write JSON, markdown and contact sheets"),
    "train": (train_command, "train a model (sae, ...) from a JSON config, with exact resume"),
    "demo": (demo, "run the most complete job the backend can do on a shape it makes itself"),
    "generate": (generate, "image, six views or a mesh -> textured mesh (GLB/PLY/OBJ)"),
    "batch": (batch, "many generate jobs from a folder or a manifest, resumable, locally or on Ray"),
    "weights": (weights, "see, download and verify the prior weights (Zero123++, normal ControlNet)"),
    "worker": (server, "serve the Blender add-on: JSON-lines requests on stdin, events on stdout"),
}


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
        threads.configure_from_environment(os.environ, one_shot=args.command != "worker")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
