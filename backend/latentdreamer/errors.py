"""The error types for problems a user can fix, and the one place that turns them into messages.

`UserFacingError` covers bad inputs, missing or damaged weights, impossible settings and
outputs that cannot be written. The CLI prints `message` and `hint` (`format_error`) and
exits with `exit_code(...)`; the worker turns it into an `error` event with `code`.
Anything else that escapes is a bug and is reported as one.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

MAX_SEED = 2**63 - 1
"""The largest seed: torch, numpy and JSON clients all hold it exactly (a signed 64-bit int)."""

EXIT_USAGE = 2
"""The command or its inputs are wrong: change them."""
EXIT_FAILED = 1
"""The inputs were fine but the run could not finish (disk full, folder removed)."""


class UserFacingError(Exception):
    """`message` says what is wrong (naming the file or setting), `hint` what to do about it."""

    def __init__(self, message: str, hint: str = "", code: str = "bad_input") -> None:
        super().__init__(f"{message}\n  hint: {hint}" if hint else message)
        self.message = message
        self.hint = hint
        self.code = code


class SettingsError(UserFacingError, ValueError):
    """A setting (preset, device, seed, steps ...) has a value no run accepts.

    A ValueError too, so callers that validate requests (the worker's `bad_request`) and
    older code catching ValueError keep working.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, code="bad_settings")


class DeviceUnavailable(UserFacingError, RuntimeError):
    """`--device cuda` / `mps` was asked for on a machine that cannot provide it."""

    def __init__(self, message: str, hint: str = "use --device auto or --device cpu") -> None:
        super().__init__(message, hint, code="device_unavailable")


class OutputError(UserFacingError):
    """An output file or folder cannot be (or was not) written: codes `output_exists`,
    `bad_output` (the path itself is unusable) and `write_failed` (the disk said no)."""


def check_seed(seed: object) -> int:
    """The seed as an int, or a SettingsError saying which range is allowed.

    Negative seeds and seeds past 2^63 - 1 are refused rather than reduced: torch accepts
    some of them, numpy others, so a reduced seed would mean different things in different
    stages, and the same number would not reproduce a run across versions.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SettingsError(f"seed must be a whole number, got {seed!r}", f"use a seed from 0 to {MAX_SEED}")
    if not 0 <= seed <= MAX_SEED:
        raise SettingsError(f"seed {seed} is out of range", f"use a seed from 0 to {MAX_SEED} (2^63 - 1)")
    return seed


_OS_ERRORS = {
    errno.ENOSPC: ("the disk is full", "free some space or write somewhere else"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or write somewhere else"),
    errno.EFBIG: (
        "the file is larger than this process may write (file size limit, `ulimit -f`)",
        "raise the limit or write somewhere else",
    ),
    errno.EACCES: ("permission denied", "choose a folder you can write to"),
    errno.EPERM: ("permission denied", "choose a folder you can write to"),
    errno.EROFS: ("the file system is read-only", "choose a folder on a writable disk"),
    errno.ENOENT: (
        "the folder no longer exists (removed while the run was working?)",
        "check that nothing deletes the folder while a run writes into it",
    ),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "choose a path whose folders are folders"),
    errno.EISDIR: ("the path is a folder", "give a file name"),
}


def describe_os_error(exc: OSError) -> tuple[str, str]:
    """(what happened, what to do) for an OSError, in words rather than an errno."""
    what, hint = _OS_ERRORS.get(exc.errno or -1, (exc.strerror or str(exc), "check the disk and the folder"))
    return what, hint


def write_failed(path: object, exc: OSError, hint: str = "") -> OutputError:
    """The OutputError for an OSError raised while writing `path`."""
    what, default_hint = describe_os_error(exc)
    return OutputError(f"could not write {path}: {what} ({exc.strerror or exc})", hint or default_hint, code="write_failed")


def format_error(exc: UserFacingError) -> str:
    """How the CLI prints a user-facing error: the message, then the hint on its own line."""
    return f"error: {exc.message}" + (f"\n  hint: {exc.hint}" if exc.hint else "")


def exit_code(exc: UserFacingError) -> int:
    """1 when the environment failed the run (disk full, folder removed), else 2 (fix the command)."""
    return EXIT_FAILED if exc.code == "write_failed" else EXIT_USAGE


@contextlib.contextmanager
def naming_file(path: object, what: str = "mesh file", hint: str = "fix or replace the file, or leave it out") -> Iterator[None]:
    """Turn a failure while reading or processing one input file into a UserFacingError that
    names the file, so a batch over many files (evaluation meshes) says which one is bad."""
    try:
        yield
    except UserFacingError:
        raise
    except (ValueError, OSError, ArithmeticError, IndexError, KeyError) as exc:
        raise UserFacingError(f"{what} {path} could not be used: {type(exc).__name__}: {exc}", hint) from exc
