"""panels: the pure helpers behind the sidebar (drawing itself needs a UI, absent in background)."""

from __future__ import annotations

from latentdreamer_addon import panels


def test_wrap_width_survives_a_zero_ui_scale_and_no_region():
    assert panels.wrap_width(None, 0.0) == panels.wrap_width(300, 1.0)
    assert panels.wrap_width(700, 0.0) == 100
    assert panels.wrap_width(700, 2.0) == 50
    assert panels.wrap_width(10, 1.0) == 20  # never narrower than a readable line


def test_sources_that_need_the_prior_say_so_before_the_click():
    # Before the worker has spoken, the default source needs both Zero123++ models.
    assert panels.missing_models("DATABLOCK", {}) == ["zero123plus", "normal-controlnet"]
    assert panels.missing_models("PROMPT", {}) == ["zero123plus", "normal-controlnet", "text-to-image"]
    present = {"zero123plus": {"present": True}, "normal-controlnet": {"present": True}}
    assert panels.missing_models("FILE", present) == []
    assert panels.missing_models("PROMPT", present) == ["text-to-image"]
    assert panels.missing_models("VIEWS", {}) == []  # own views need no weights
