from __future__ import annotations

import dataclasses

import pytest

from latentdreamer.api import PRESETS
from latentdreamer.optimise.presets import PRESET_TABLE, StageBudget, get_preset


def test_every_preset_exists_and_costs_grow():
    assert tuple(PRESET_TABLE) == PRESETS
    presets = [get_preset(name) for name in PRESETS]
    for a, b in zip(presets, presets[1:], strict=False):
        assert a.sdf_resolution <= b.sdf_resolution and a.render_resolution <= b.render_resolution
        assert a.coarse.max_steps <= b.coarse.max_steps and a.texture_grid <= b.texture_grid


def test_grid_cells_span_several_pixels():
    """Silhouette gradients fade when triangles shrink to a pixel (see presets.py)."""
    for name in PRESETS:
        assert get_preset(name).pixels_per_cell >= 3.0, name


def test_bad_values_are_refused():
    with pytest.raises(ValueError):
        get_preset("huge")
    with pytest.raises(ValueError):
        StageBudget(max_steps=5, lr=0.1, min_steps=6)
    with pytest.raises(ValueError):
        StageBudget(max_steps=5, lr=0.0)
    for decay in (0.0, 1.5):
        with pytest.raises(ValueError, match="lr_decay"):
            StageBudget(max_steps=5, lr=0.1, lr_decay=decay)
    with pytest.raises(ValueError):
        dataclasses.replace(get_preset("tiny"), mask_weight_start=0.5, mask_weight_end=1.0)
    with pytest.raises(ValueError, match="band_refresh_steps"):
        dataclasses.replace(get_preset("tiny"), band_refresh_steps=-1)
    for field, value in (("view_confidence", -1.0), ("normal_robust_scale", -0.1), ("view_correction_weight", -1.0)):
        with pytest.raises(ValueError, match=field):
            dataclasses.replace(get_preset("tiny"), **{field: value})
    with pytest.raises(ValueError, match="view_correction_start"):
        dataclasses.replace(get_preset("tiny"), view_correction_start=1.5)


def test_capping_a_preset_shortens_only_the_named_stages():
    tiny = get_preset("tiny")
    short = tiny.with_max_steps(coarse=3, texture=20)
    assert (short.coarse.max_steps, short.coarse.min_steps) == (3, 3)  # the minimum of 4 lowered to fit
    assert short.texture == dataclasses.replace(tiny.texture, max_steps=20)  # the minimum of 5 still fits
    assert short.refine == tiny.refine and short.render_resolution == tiny.render_resolution
    with pytest.raises(AttributeError):
        tiny.with_max_steps(polish=2)
