import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from latentdreamer.cli import train_sae_export as export_sae
from latentdreamer.models.trained_sae import load_sae
from latentdreamer.train.sae import SAETrainer, load_config

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "sae" / "tiny.json"


def test_export_writes_loadable_weights_with_a_full_card(tmp_path: Path):
    model_cfg, train_cfg = load_config(CONFIG)
    trainer = SAETrainer(model_cfg, replace(train_cfg, eval_every=0), tmp_path / "run", command="latentdreamer train sae test")
    trainer.train_until(2, progress=False)
    ablation = tmp_path / "ablation.json"
    ablation.write_text(json.dumps([{"variant": "baseline", "after": {"iou": 0.5}}]))
    parser = argparse.ArgumentParser()
    export_sae.add_arguments(parser)
    args = parser.parse_args(
        ["--run", str(tmp_path / "run"), "--out", str(tmp_path / "w" / "sae.safetensors"), "--ablation", str(ablation)]
    )
    assert export_sae.run(args) == 0
    card = json.loads((tmp_path / "w" / "sae.json").read_text())
    assert card["training"]["steps"] == 2 and card["training"]["shapes_seen"] == 2 * train_cfg.batch_size
    assert card["training"]["commands"][0]["command"] == "latentdreamer train sae test"
    assert card["loss_ablation"][0]["variant"] == "baseline" and card["metrics"] is None
    model = load_sae(tmp_path / "w" / "sae.safetensors")
    for a, b in zip(model.state_dict().values(), trainer.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
