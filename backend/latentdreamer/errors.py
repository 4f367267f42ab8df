"""The error type for problems a user can fix: bad inputs, missing weights, impossible settings.

The CLI prints `message` and `hint`; the worker turns it into an `error` event with `code`.
Anything else that escapes is a bug and is reported as one.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """`message` says what is wrong (naming the file or setting), `hint` what to do about it."""

    def __init__(self, message: str, hint: str = "", code: str = "bad_input") -> None:
        super().__init__(f"{message}\n  hint: {hint}" if hint else message)
        self.message = message
        self.hint = hint
        self.code = code
