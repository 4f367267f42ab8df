import argparse
import json
from pathlib import Path

import pytest
import torch

from latentdreamer.cli import train_lin_export as export_lin
from latentdreamer.models.lin import load_lin
from latentdreamer.models.sae import SAE
from latentdreamer.models.trained_sae import export_sae
from latentdreamer.models.weights_file import WeightsError, read_card
from latentdreamer.train.lin import LINTrainer, load_config
from latentdreamer.train.sae import load_config as sae_config

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "lin" / "tiny.json"
SAE_CONFIG = sae_config(CONFIG.parents[1] / "sae" / "tiny.json")[0]


@pytest.mark.usefixtures("one_thread")
def test_export_names_the_sae_and_refuses_a_foreign_evaluation(tmp_path: Path):
    torch.manual_seed(0)
    export_sae(SAE(SAE_CONFIG), tmp_path / "sae.safetensors", {})
    torch.manual_seed(1)
    export_sae(SAE(SAE_CONFIG), tmp_path / "other.safetensors", {})
    model_cfg, data_cfg, train_cfg = load_config(CONFIG)
    LINTrainer(model_cfg, data_cfg, train_cfg, tmp_path / "run", tmp_path / "sae.safetensors").train_until(1, progress=False)
    out = tmp_path / "lin.safetensors"
    assert export_lin.run(argparse.Namespace(run=tmp_path / "run", out=out, eval=None)) == 0
    card = read_card(out)
    assert card["sae_sha256"] == read_card(tmp_path / "sae.safetensors")["sha256"] and card["training"]["steps"] == 1
    assert card["parameters"] > 0 and card["metrics"] is None
    load_lin(out, sae_card=tmp_path / "sae.safetensors")
    with pytest.raises(WeightsError):
        load_lin(out, sae_card=tmp_path / "other.safetensors")

    foreign = tmp_path / "lin_eval.json"
    foreign.write_text(json.dumps({"lin_sha256": "0" * 64, "sae_sha256": card["sae_sha256"]}))
    with pytest.raises(SystemExit, match="other LIN weights"):
        export_lin.run(argparse.Namespace(run=tmp_path / "run", out=out, eval=foreign))
    assert read_card(out)["metrics"] is None
    own = tmp_path / "own.json"
    from latentdreamer.eval.lin import METRICS

    scores = {k: 0.5 for k in METRICS}
    report = {"lin": "x", "lin_sha256": card["sha256"], "sae_sha256": card["sae_sha256"], "resolution": 32, "image_size": 32}
    own.write_text(json.dumps({**report, "random": {"count": 1, "mean": scores, "objects": [{"name": "s", **scores}]}}))
    export_lin.run(argparse.Namespace(run=tmp_path / "run", out=out, eval=own))
    assert read_card(out)["metrics"]["random"]["mean"]["iou"] == 0.5
    md = out.with_suffix(".md").read_text()
    assert card["sae_sha256"] in md and "| **mean** | 0.500 |" in md
