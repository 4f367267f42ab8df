"""The priors' user-facing error: a bad input image or missing weights."""

from __future__ import annotations

from latentdreamer.errors import UserFacingError


class PriorInputError(UserFacingError):
    """What is wrong with the input image or the model folder, and (`hint`) what to do."""
