"""progress_text: stage names an artist reads, and a time left only once a rate is measured."""

from __future__ import annotations

import pytest

from latentdreamer_addon import progress_text
from latentdreamer_addon.progress_text import RateGate


def test_every_backend_stage_has_an_artist_name():
    for stage in ("views", "init", "coarse", "refine", "subdivide", "texture", "bake"):
        label = progress_text.stage_label(stage)
        assert label and label != stage and label[0].isupper()
    assert progress_text.stage_label("new_stage") == "New stage"  # never the raw id
    assert progress_text.stage_label("") == ""


@pytest.mark.parametrize(
    "message, shown",
    [
        ("loss 0.1234", False),
        ("{'start': 'hull', 'loss': 0.2}", False),
        ("[1, 2, 3]", False),
        ("0.53 / 12", False),
        ("", False),
        ("Retrying at a lower preset after running out of memory", True),
        ("views loaded", True),
    ],
)
def test_only_artist_messages_reach_the_panel(message, shown):
    assert progress_text.is_artist_message(message) is shown


def test_eta_waits_for_a_measured_rate_and_restarts_per_stage():
    gate = RateGate()
    assert gate.eta("coarse", 40.0, now=0.0) is None  # first event: nothing measured
    assert gate.eta("coarse", 35.0, now=1.0) is None
    assert gate.eta("coarse", 30.0, now=2.0) is None  # three events, but only 2 s
    assert gate.eta("coarse", 25.0, now=3.5) == 25.0
    assert gate.eta("refine", 5.0, now=4.0) is None  # a new stage measures again
    assert gate.eta("refine", None, now=9.0) is None  # the worker has no estimate


def test_eta_text():
    assert progress_text.eta_text(-1) == ""
    assert progress_text.eta_text(42.4) == "42 s left"
    assert progress_text.eta_text(65) == "1 min 05 s left"
