"""The real download code, end to end, against a stand-in for the model hub on 127.0.0.1.

`latentdreamer weights download --image` fetches tiny random Zero123++ and ControlNet
folders through huggingface_hub (HF_ENDPOINT points at the stand-in, which answers the
model-info, tree and resolve endpoints with the hub's headers) and the u2net stand-in over
plain HTTP; every file is checked against the hub's checksum and against the pins (a
LATENTDREAMER_PINS file pins the stand-in's own commits, as a studio's mirror would). Then
`weights verify` says OK, a single image goes through `latentdreamer generate IMAGE --preset
tiny` with rembg cutting it out, and the faults: a pin that does not match refuses the
download and deletes the file, a flipped byte stops the next load naming the file.
Each command is a subprocess, as a user runs it (HF_ENDPOINT is read at import).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentdreamer.locations import Locations
from latentdreamer.priors import model_store, segmentation
from latentdreamer.priors.errors import PriorInputError

from stand_in_hub import (
    TINY_REPOS,
    U2NET_PATH,
    StandInHub,
    serve_tiny_models,
    tiny_u2net_onnx,
)

pytest.importorskip("huggingface_hub", reason="the 'diffusion' extra is not installed")
pytest.importorskip("rembg", reason="the 'segmentation' extra is not installed: pip install -e 'backend[segmentation]'")
COMMITS = {name: commit for name, (_, _, commit) in TINY_REPOS.items()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def hub(tiny_models, tmp_path_factory):
    for name, (repo_id, folder, _) in TINY_REPOS.items():  # the stand-in serves what the registry fetches
        assert (model_store.MODELS[name].repo_id, model_store.MODELS[name].folder) == (repo_id, folder)
    root = tmp_path_factory.mktemp("hub")
    with StandInHub() as server:
        pins = root / "pins.json"
        pins.write_text(json.dumps(serve_tiny_models(server, tiny_models, tiny_u2net_onnx(root / "u2net.onnx"))))
        yield server, pins


def run_cli(args: list[str], home: Path, pins: Path, hub_url: str, **extra: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "HF_ENDPOINT": hub_url,
        "HF_HOME": str(home / "hf"),
        "U2NET_HOME": str(home / "u2net"),
        "LATENTDREAMER_PINS": str(pins),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "OMP_NUM_THREADS": "1",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "latentdreamer", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=600,
    )


@pytest.fixture()
def photo(tmp_path) -> Path:
    """A photo without transparency: a bright object on a dark background, so the u2net
    stand-in (max over channels) cuts it out and the method used is rembg."""
    rgb = np.full((80, 60, 3), 20, np.uint8)
    rgb[15:65, 12:48] = (230, 120, 60)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb, "RGB").save(path)
    return path


def test_download_verify_generate_then_faults(hub, tmp_path, photo, monkeypatch):
    server, pins = hub
    home, models = tmp_path / "home", tmp_path / "models"
    home.mkdir()
    out = run_cli(["weights", "download", "--image", "--models-dir", str(models)], home, pins, server.url)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    for name in ("zero123plus", "normal-controlnet"):
        spec = model_store.MODELS[name]
        manifest = json.loads((models / spec.folder / model_store.MANIFEST).read_text())
        assert manifest["commit"] == COMMITS[name] and manifest["repo_id"] == spec.repo_id
        assert (
            "GET",
            f"/{spec.repo_id}/resolve/{COMMITS[name]}/model_index.json"
            if name == "zero123plus"
            else f"/{spec.repo_id}/resolve/{COMMITS[name]}/config.json",
        ) in server.requests
    assert ("GET", "/" + U2NET_PATH) in server.requests
    assert (models / "u2net" / "u2net.onnx").is_file() and not list((models / "u2net").glob("*.part"))
    assert not list(models.rglob("*.bin")) and not list(models.rglob("*.pt"))

    out = run_cli(["weights", "verify", "--image", "--models-dir", str(models)], home, pins, server.url)
    assert out.returncode == 0, out.stdout + out.stderr
    finals = [line for line in out.stdout.splitlines() if ": OK (" in line]
    assert len(finals) == 3 and "NOT VERIFIED" not in out.stdout and "no reference" not in out.stdout
    assert f"at {COMMITS['zero123plus']}" in out.stdout

    mesh = tmp_path / "photo.glb"
    out = run_cli(
        ["generate", str(photo), "--preset", "tiny", "-o", str(mesh), "--quiet"],
        home,
        pins,
        server.url,
        LATENTDREAMER_MODELS=str(models),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert mesh.is_file() and mesh.stat().st_size > 1000
    assert "background removal: rembg" in out.stderr, out.stderr[-2000:]

    # A pin that does not match what the hub serves: refused, the file deleted, no manifest.
    bad = json.loads(pins.read_text())
    unet = next(k for k in bad["zero123plus"]["sha256"] if k.startswith("unet/") and k.endswith(".safetensors"))
    bad["zero123plus"]["sha256"][unet] = "0" * 64
    bad_pins = tmp_path / "bad-pins.json"
    bad_pins.write_text(json.dumps(bad))
    other = tmp_path / "other-models"
    out = run_cli(["weights", "download", "zero123plus", "--models-dir", str(other)], home, bad_pins, server.url)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert unet in out.stderr and "pinned" in out.stderr and "hint:" in out.stderr
    assert not (other / "zero123plus-v1.2" / unet).exists()
    assert not (other / "zero123plus-v1.2" / model_store.MANIFEST).exists()

    # A flipped byte after download: the next load stops, naming the file and the fix.
    locations = Locations.from_environment({"LATENTDREAMER_PINS": str(pins), "LATENTDREAMER_MODELS": str(models)})
    target = models / "zero123plus-v1.2" / unet
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(PriorInputError) as info:
        model_store.require(("zero123plus",), locations)
    assert str(target) in info.value.message and "weights download zero123plus" in info.value.hint
    out = run_cli(
        ["generate", str(photo), "--preset", "tiny", "-o", str(tmp_path / "again.glb"), "--quiet"],
        home,
        pins,
        server.url,
        LATENTDREAMER_MODELS=str(models),
    )
    assert out.returncode != 0 and str(target) in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "again.glb").exists()

    # The same for the background-removal model: no silent fall-back to a flood fill.
    u2net = models / "u2net" / "u2net.onnx"
    data = bytearray(u2net.read_bytes())
    data[-1] ^= 0x01
    u2net.write_bytes(bytes(data))
    rgba = np.concatenate([np.asarray(Image.open(photo), np.float32) / 255, np.ones((80, 60, 1), np.float32)], axis=2)
    with pytest.raises(PriorInputError, match="u2net.onnx"):
        segmentation.segment(rgba, False, locations=locations)


def test_a_bad_pins_file_is_one_clear_error(tmp_path, capsys, monkeypatch):
    pins = tmp_path / "pins.json"
    pins.write_text(json.dumps({"zero123plus": {"sha256": {"unet/x.safetensors": "not-a-hash"}}}))
    monkeypatch.setenv("LATENTDREAMER_PINS", str(pins))
    from latentdreamer.cli.main import main

    assert main(["weights", "download", "zero123plus", "--models-dir", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "LATENTDREAMER_PINS" in err and "not-a-hash" in err and "hint:" in err
    pins.write_text(json.dumps({"no-such-model": {}}))
    assert main(["weights", "status", "--models-dir", str(tmp_path / "m")]) == 0  # status reads no pins
    assert main(["weights", "download", "zero123plus", "--models-dir", str(tmp_path / "m")]) == 1
    assert "unknown model name" in capsys.readouterr().err
