"""Text -> object image on a tiny random Stable Diffusion saved in the real layout, and `generate --prompt`."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("diffusers", reason="the 'diffusion' extra is not installed: pip install -e 'backend[test,diffusion]'")

from latentdreamer.api import Callbacks, Cancelled, GenerateSettings
from latentdreamer.cli.main import main
from latentdreamer.locations import Locations
from latentdreamer.priors import model_store
from latentdreamer.priors.errors import PriorInputError
from latentdreamer.priors.text_to_image import OBJECT_SUFFIX, TextToImage, compose_prompt, prompt_image

from tiny_diffusion import assert_refuses_pickled_and_incomplete

SIZE = 16  # the tiny UNet's sample size (8) times the tiny VAE's factor (2)


@pytest.fixture(scope="module")
def tiny_sd(tiny_models) -> TextToImage:
    return TextToImage.load(tiny_models / "stable-diffusion-2-1-base")


@pytest.fixture()
def no_env(monkeypatch, tmp_path):
    for var in ("LATENTDREAMER_MODELS", "HF_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))


def test_image_shape_range_progress_and_determinism(tiny_sd):
    steps = []
    a = tiny_sd.generate("a red teapot", steps=3, seed=5, on_step=lambda i, n: steps.append((i, n)))
    assert tiny_sd.native_size == SIZE
    assert a.shape == (SIZE, SIZE, 3) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.std() > 1e-3
    assert steps == [(1, 3), (2, 3), (3, 3)]
    np.testing.assert_array_equal(a, tiny_sd.generate("a red teapot", steps=3, seed=5))
    assert np.abs(a - tiny_sd.generate("a red teapot", steps=3, seed=6)).mean() > 1e-4
    assert np.abs(a - tiny_sd.generate("a blue cup", steps=3, seed=5)).mean() > 1e-5
    assert tiny_sd.generate("a red teapot", steps=2, seed=5, size=32).shape == (32, 32, 3)


def test_cancellation_between_steps(tiny_sd):
    done = []
    with pytest.raises(Cancelled) as info:
        tiny_sd.generate("a chair", steps=5, on_step=lambda i, n: done.append(i), should_cancel=lambda: len(done) >= 2)
    assert done == [1, 2] and info.value.stage == "text-to-image"
    with pytest.raises(Cancelled):
        tiny_sd.generate("a chair", steps=5, on_step=lambda i, n: done.append(i), should_cancel=lambda: True)
    assert done == [1, 2]  # cancelled before the first step


def test_prompt_engineering():
    assert compose_prompt("a red teapot.") == f"a red teapot, {OBJECT_SUFFIX}"
    assert compose_prompt(" a chair ", "on grass") == "a chair, on grass"
    assert compose_prompt("a chair", "") == "a chair"
    with pytest.raises(PriorInputError, match="empty"):
        compose_prompt("   ")


def test_prompt_image_saves_a_png_with_progress(tiny_models, tmp_path):
    seen = []
    path = prompt_image(
        "a red teapot",
        tmp_path / "v" / "prompt_image.png",
        GenerateSettings(preset="tiny", device="cpu", seed=3),
        Callbacks(on_progress=seen.append),
        Locations(models_dir=tiny_models),
        span=(0.0, 0.1),
    )
    assert np.asarray(Image.open(path)).shape == (SIZE, SIZE, 3)
    assert [(p.stage, p.step, p.total) for p in seen] == [("text-to-image", 1, 2), ("text-to-image", 2, 2)]
    assert seen[-1].fraction == pytest.approx(0.1)


def test_folder_with_only_pickled_weights_is_refused(tiny_models, tmp_path):
    assert_refuses_pickled_and_incomplete(
        TextToImage.load, tiny_models / "stable-diffusion-2-1-base", tmp_path / "sd", "text_encoder", "tokenizer"
    )


def test_registry_knows_the_model(tiny_models, no_env, capsys):
    spec = model_store.MODELS["text-to-image"]
    assert "Open RAIL++-M" in spec.licence and spec.revision == "main"
    assert all("/" in p for p in spec.allow_patterns if p.endswith(".safetensors"))  # never the single-file checkpoints
    assert main(["weights", "status", "text-to-image", "--models-dir", str(tiny_models)]) == 0
    assert "present (models-dir" in capsys.readouterr().out
    assert main(["weights", "path", "text-to-image", "--models-dir", str(tiny_models / "none")]) == 1
    err = capsys.readouterr().err
    assert "latentdreamer weights download text-to-image" in err and "'unet/*.safetensors'" in err


def test_cli_without_weights_fails_fast_with_the_instruction(tiny_models, no_env, tmp_path, capsys):
    models = tmp_path / "models"
    shutil.copytree(tiny_models / "zero123plus-v1.2", models / "zero123plus-v1.2")
    shutil.copytree(tiny_models / "controlnet-zp12-normal-gen-v1", models / "controlnet-zp12-normal-gen-v1")
    start = time.perf_counter()
    code = main(["generate", "--prompt", "a red teapot", "-o", str(tmp_path / "out.glb"), "--models-dir", str(models)])
    assert code == 2 and time.perf_counter() - start < 5
    err = capsys.readouterr().err
    assert f"latentdreamer weights download text-to-image --models-dir {models}" in err
    assert "zero123plus" not in err.split("hint:")[0]  # only what is missing is named
    assert not (tmp_path / "out_views").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["img.png", "--prompt", "a chair"], "IMAGE and --prompt exclude each other"),
        (["--prompt", "a chair", "--from-mesh", "m.obj"], "exactly one input"),
        (["--prompt", "  "], "--prompt is empty"),
        (["img.png", "--prompt-suffix", "x"], "--prompt-suffix goes with --prompt"),
    ],
)
def test_bad_prompt_arguments(args, message, tmp_path, capsys):
    assert main(["generate", *args, "-o", str(tmp_path / "x.glb")]) == 2
    assert message in capsys.readouterr().err


def test_cli_prompt_to_views(tiny_models, tmp_path, capsys):
    out = tmp_path / "result.glb"
    code = main(
        [
            "generate",
            "--prompt",
            "a red teapot",
            "-o",
            str(out),
            "--models-dir",
            str(tiny_models),
            "--preset",
            "tiny",
            "--device",
            "cpu",
            "--views-only",
            "--segmentation",
            "plain",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    folder = tmp_path / "result_views"
    assert np.asarray(Image.open(folder / "prompt_image.png")).shape == (SIZE, SIZE, 3)
    assert (folder / "views_grid.png").is_file() and len(list(folder.glob("rgb_*.png"))) == 6
    assert "prompt_image.png" in capsys.readouterr().err
