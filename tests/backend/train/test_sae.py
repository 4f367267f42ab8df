from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from latentdreamer.geometry.grid import sample_grid, voxel_size
from latentdreamer.models.checkpoint import load_checkpoint
from latentdreamer.train.sae import (
    EVAL_SEED_BASE,
    SAETrainer,
    load_config,
    reconstruction_loss,
    sample_points,
    shape_batch,
)

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "sae" / "tiny.json"


def _configs(**train):
    model_cfg, train_cfg = load_config(CONFIG)
    return model_cfg, replace(train_cfg, eval_every=0, **train)


def _heldout_loss(trainer: SAETrainer) -> float:
    """Reconstruction loss through the posterior mean on fixed unseen shapes and points."""
    cfg, mcfg = trainer.train_cfg, trainer.model.config
    sdf = torch.from_numpy(np.stack([trainer.shape_fn(EVAL_SEED_BASE + i, mcfg.resolution) for i in range(4)]))
    gen = torch.Generator().manual_seed(123)
    h = voxel_size(mcfg.resolution)
    pts = torch.stack([sample_points(s, 1024, 0.6, 2 * h, gen) for s in sdf])
    with torch.no_grad():
        mean, _ = trainer.model.encode(sdf)
        pred = trainer.model.decode_points(mean, pts)
        return reconstruction_loss(
            pred, sample_grid(sdf[:, None], pts).squeeze(-1), mcfg.truncation, h, cfg.surface_weight
        ).item()


def test_loss_goes_down(tmp_path: Path):
    trainer = SAETrainer(*_configs(), tmp_path / "run")
    before = _heldout_loss(trainer)
    trainer.train_until(25, progress=False)
    after = _heldout_loss(trainer)
    assert after < 0.9 * before, (before, after)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 25


def test_resume_is_exact(tmp_path: Path):
    straight = SAETrainer(*_configs(), tmp_path / "a")
    straight.train_until(4, progress=False)

    first = SAETrainer(*_configs(), tmp_path / "b")
    first.train_until(2, progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        SAETrainer(*_configs(), tmp_path / "b")
    second = SAETrainer(*_configs(), tmp_path / "b", resume=True)
    assert second.step == 2
    second.train_until(4, progress=False)

    for (name, a), (_, b) in zip(straight.model.state_dict().items(), second.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    sa, sb = straight.optimizer.state_dict()["state"], second.optimizer.state_dict()["state"]
    assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    meta = load_checkpoint(tmp_path / "b", second.model)
    assert meta["step"] == 4 and [r["start_step"] for r in meta["runs"]] == [0, 2]

    third = SAETrainer(*_configs(), tmp_path / "b", resume=True, changes={"lr": 1e-4})
    assert third.train_cfg.lr == 1e-4 and third.meta["runs"][-1]["changes"] == {"lr": 1e-4}


def test_training_never_touches_evaluation_seeds():
    with pytest.raises(RuntimeError, match="evaluation seed"):
        shape_batch(lambda s, r: np.zeros((r, r, r), np.float32), EVAL_SEED_BASE // 2, 2, 8)
