"""What the panel says about a running job, in an artist's words (no bpy: plain, testable).

The worker's events carry stage ids ("coarse", "refine") and technical messages ("loss
0.1234", a dict of start statistics) meant for its log. The panel shows a stage name a
person understands, the step count, and a time left only once it rests on a measured rate:
the worker's first estimates within a stage come from a second of work and swing wildly.
"""

from __future__ import annotations

STAGE_LABELS: dict[str, str] = {
    "queued": "Waiting for the backend",
    "starting": "Starting the backend",
    "loading": "Loading the models",
    "views": "Imagining the six views",
    "init": "Finding a first shape",
    "coarse": "Shaping",
    "refine": "Refining details",
    "subdivide": "Smoothing the surface",
    "texture": "Painting colours",
    "bake": "Baking the texture",
}

MIN_RATE_S = 3.0
"""Seconds of steady progress before a time left is shown."""

MIN_STEPS = 3
"""Progress events in the current stage before a time left is shown."""


def stage_label(stage: str) -> str:
    """The artist's name for a worker stage; an unknown stage is shown capitalised, never raw."""
    if not stage:
        return ""
    return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


def is_artist_message(message: str) -> bool:
    """True for a message worth a line in the panel; False for log detail (numbers, dicts)."""
    text = message.strip()
    if not text or text[0] in "{[(" or "loss" in text.lower():
        return False
    letters = sum(c.isalpha() for c in text)
    return letters >= 0.6 * sum(not c.isspace() for c in text)


def eta_text(seconds: float) -> str:
    """'1 min 05 s left' / '40 s left'; '' for an unknown (negative) time."""
    if seconds < 0:
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s left" if minutes else f"{secs} s left"


class RateGate:
    """Lets an ETA through only after `MIN_STEPS` events and `MIN_RATE_S` seconds in one stage."""

    def __init__(self) -> None:
        self.stage = ""
        self.events = 0
        self.since = 0.0

    def eta(self, stage: str, eta_s: float | None, now: float) -> float | None:
        if stage != self.stage:
            self.stage, self.events, self.since = stage, 0, now
        self.events += 1
        if eta_s is None or self.events < MIN_STEPS or now - self.since < MIN_RATE_S:
            return None
        return float(eta_s)
