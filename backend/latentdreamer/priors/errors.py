"""The priors' user-facing error: a bad input image or missing weights."""

from __future__ import annotations

from latentdreamer.errors import UserFacingError


class PriorInputError(UserFacingError):
    """What is wrong with the input image or the model folder, and (`hint`) what to do.

    `code` is one of the worker protocol's error codes (file_not_found, not_an_image,
    image_too_large, invalid_input, weights_missing).
    """

    def __init__(self, message: str, hint: str = "", code: str = "invalid_input") -> None:
        super().__init__(message, hint, code)
