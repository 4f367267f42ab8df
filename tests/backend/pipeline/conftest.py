"""One tiny-preset run of the whole pipeline on a coloured random object, shared by the tests
that inspect its result (each end-to-end run costs seconds on a CPU)."""

from __future__ import annotations

import pytest
import torch

from latentdreamer.api import Callbacks, GenerateSettings
from latentdreamer.geometry.example_object import example_object
from latentdreamer.pipeline.generate import PipelineOptions, generate_from_views
from latentdreamer.pipeline.oracle_views import oracle_views

NO_SAE = PipelineOptions(use_sae=False)
"""Quality thresholds are measured on the no-SAE path, so they hold whatever weights are
installed; test_generate_sae.py runs the latent path with an untrained SAE."""

VIEW_SIZE = 96
"""Oracle views are 320 px in production; the tiny preset renders at 48-64 px anyway."""


@pytest.fixture(scope="session")
def oracle():
    torch.set_num_threads(2)
    truth, views = oracle_views(example_object(seed=7, resolution=40), resolution=VIEW_SIZE)
    return truth, views


@pytest.fixture(scope="session")
def tiny_run(oracle):
    _, views = oracle
    events = []
    previews = []
    result = generate_from_views(
        views,
        GenerateSettings(preset="tiny", device="cpu", preview_every=3),
        Callbacks(on_progress=events.append, on_preview=lambda mesh, stage: previews.append((mesh, stage))),
        options=NO_SAE,
    )
    return result, events, previews
