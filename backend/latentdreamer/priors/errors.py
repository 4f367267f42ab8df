"""The one error type the priors raise for problems a user can fix, with a hint how."""

from __future__ import annotations


class PriorInputError(Exception):
    """A bad input image or missing weights: `message` says what, `hint` says what to do.

    The worker turns it into an `error` event (code, message, hint); the CLI prints both.
    """

    def __init__(self, message: str, hint: str = "", code: str = "bad_input") -> None:
        super().__init__(f"{message}\n  hint: {hint}" if hint else message)
        self.message = message
        self.hint = hint
        self.code = code
