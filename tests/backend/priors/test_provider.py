"""Single image -> six views through the provider, the saved files and the CLI, on tiny weights."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from latentdreamer.api import Callbacks, Cancelled, GenerateSettings
from latentdreamer.cli.main import main
from latentdreamer.locations import Locations
from latentdreamer.priors.errors import PriorInputError
from latentdreamer.priors.provider import UserViewsProvider, Zero123PlusProvider
from latentdreamer.priors.single_image import prepare_views

TILE = 32  # the tiny model's condition size, so the grid is 64 x 96


@pytest.fixture()
def photo(tmp_path):
    rgba = np.zeros((60, 40, 4), np.uint8)
    rgba[10:50, 5:30] = (30, 160, 220, 255)
    path = tmp_path / "object.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def test_views_from_one_image_with_progress_and_saved_files(tiny_models, photo, tmp_path):
    reports = []
    views, paths = prepare_views(
        photo,
        GenerateSettings(preset="tiny", device="cpu", seed=1),
        Callbacks(on_progress=reports.append),
        locations=Locations(models_dir=tiny_models),
        views_dir=tmp_path / "views",
    )
    assert views.rgb.shape == (6, TILE, TILE, 3) and views.alpha.shape == (6, TILE, TILE)
    assert views.normals.shape == (6, TILE, TILE, 3)
    for arr in (views.rgb, views.alpha, views.normals):
        assert arr.dtype == np.float32 and 0.0 <= arr.min() and arr.max() <= 1.0
    assert [(r.step, r.total) for r in reports] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert reports[-1].fraction == pytest.approx(1.0) and all(r.stage == "views" for r in reports)
    grid = np.asarray(Image.open(paths["colour_grid"]))
    assert grid.shape == (3 * TILE, 2 * TILE, 3)
    assert np.asarray(Image.open(paths["rgb"][5])).shape == (TILE, TILE, 4)
    assert len(paths["normals"]) == 6 and Image.open(paths["condition"]).size == (320, 320)
    assert "background removal: alpha" in paths["notes"]


def test_cancel_between_steps(tiny_models, photo):
    provider = Zero123PlusProvider(locations=Locations(models_dir=tiny_models), steps=3)
    seen = []
    callbacks = Callbacks(on_progress=seen.append, should_cancel=lambda: len(seen) >= 1)
    with pytest.raises(Cancelled):
        provider.views(photo, GenerateSettings(preset="tiny", device="cpu"), callbacks)
    assert len(seen) == 1


def test_missing_weights_fail_fast_with_the_instruction(photo, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LATENTDREAMER_MODELS", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    start = time.perf_counter()
    code = main(["generate", str(photo), "-o", str(tmp_path / "out.glb"), "--models-dir", str(tmp_path / "none")])
    assert code == 2 and time.perf_counter() - start < 5
    err = capsys.readouterr().err
    assert "zero123plus" in err and "latentdreamer weights download" in err
    with pytest.raises(PriorInputError) as info:
        Zero123PlusProvider(locations=Locations(models_dir=tmp_path / "none", hub_cache=tmp_path / "no-cache")).views(
            photo, GenerateSettings(), Callbacks()
        )
    assert info.value.code == "weights_missing"


def test_cli_views_only(tiny_models, photo, tmp_path, capsys):
    out = tmp_path / "result.glb"
    code = main(
        [
            "generate",
            str(photo),
            "-o",
            str(out),
            "--models-dir",
            str(tiny_models),
            "--preset",
            "tiny",
            "--device",
            "cpu",
            "--views-only",
        ]
    )
    assert code == 0
    folder = tmp_path / "result_views"
    assert (folder / "views_grid.png").is_file() and (folder / "normals_grid.png").is_file()
    assert len(list(folder.glob("rgb_*.png"))) == 6 and "background removal" in (folder / "notes.txt").read_text()


def test_bad_image_is_reported_before_any_model_loads(tiny_models, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    assert main(["generate", str(bad), "-o", str(tmp_path / "x.glb"), "--models-dir", str(tiny_models)]) == 2
    assert "cannot read bad.jpg" in capsys.readouterr().err


def test_user_views_provider(tmp_path):
    from latentdreamer.render.grid_image import join_grid

    tiles = []
    for k in range(6):
        tile = np.zeros((48, 48, 4), np.float32)
        tile[10 + k : 36, 12:38] = (0.2, 0.5, 0.9, 1.0)
        tiles.append(tile)
    path = tmp_path / "grid.png"
    Image.fromarray(np.round(join_grid(tiles) * 255).astype(np.uint8), "RGBA").save(path)
    seen = []
    views = UserViewsProvider(grid=path).views(None, GenerateSettings(), Callbacks(on_progress=seen.append))
    assert views.rgb.shape == (6, 48, 48, 3) and views.alpha[3, 20, 20] == 1.0 and views.alpha[3, 0, 0] == 0.0
    assert seen[-1].fraction == 1.0
