"""job: the one generate job behind the CLI, the worker and batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentdreamer.api import Callbacks, Cancelled, GenerateSettings, Progress
from latentdreamer.job import JobInputs, Models, _within, run_job


@pytest.mark.parametrize(
    "inputs, source",
    [
        (JobInputs(image=Path("a.png")), "image"),
        (JobInputs(prompt="a cup"), "prompt"),
        (JobInputs(view_grid=Path("g.png"), normal_grid=Path("n.png")), "views"),
        (JobInputs(view_files=tuple(Path(f"{k}.png") for k in range(6))), "views"),
        (JobInputs(mesh=Path("m.glb")), "mesh"),
    ],
)
def test_exactly_one_source(inputs, source):
    assert inputs.source == source


@pytest.mark.parametrize(
    "inputs, message",
    [
        (JobInputs(), "exactly one input"),
        (JobInputs(image=Path("a.png"), prompt="a cup"), "exactly one input"),
        (JobInputs(image=Path("a.png"), normal_grid=Path("n.png")), "normal maps go with six views"),
    ],
)
def test_a_bad_combination_says_what_to_give(inputs, message):
    with pytest.raises(ValueError, match=message):
        _ = inputs.source


def test_one_bar_for_the_prior_and_the_pipeline():
    seen = []
    mapped = _within(Callbacks(on_progress=lambda p: seen.append(p.fraction)), 0.3, 1.0)
    for f in (0.0, 0.5, 1.0):
        mapped.on_progress(Progress("coarse", 1, 1, f))
    assert seen == [pytest.approx(0.3), pytest.approx(0.65), pytest.approx(1.0)]


@pytest.fixture(scope="module")
def object_file(tmp_path_factory) -> Path:
    from latentdreamer.geometry.example_object import example_object
    from latentdreamer.io.mesh_io import save_mesh

    path = tmp_path_factory.mktemp("object") / "object.glb"
    save_mesh(example_object(seed=3, resolution=32), path)
    return path


def test_a_mesh_job_saves_its_views_then_makes_the_mesh(object_file, tmp_path):
    saved, fractions = [], []
    done = run_job(
        JobInputs(mesh=object_file),
        GenerateSettings(preset="tiny"),
        tmp_path / "views",
        Callbacks(on_progress=lambda p: fractions.append(p.fraction)),
        Models(),
        on_views=saved.append,
    )
    assert done.result.mesh.num_faces > 100
    assert sorted(p.name for p in (tmp_path / "views").glob("*.png")) == sorted(
        [f"rgb_{k}.png" for k in range(6)] + [f"normal_{k}.png" for k in range(6)]
    )
    assert saved and len(saved[0]["rgb"]) == 6
    assert fractions[-1] == pytest.approx(1.0) and fractions == sorted(fractions)


def test_a_cancel_while_the_views_are_made_stops_before_the_mesh(object_file, tmp_path):
    with pytest.raises(Cancelled) as err:
        run_job(
            JobInputs(mesh=object_file),
            GenerateSettings(preset="tiny"),
            tmp_path / "views",
            Callbacks(should_cancel=lambda: True),
            Models(),
        )
    assert err.value.stage == "views" and (tmp_path / "views" / "rgb_0.png").is_file()  # the views are kept
