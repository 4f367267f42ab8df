from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from latentdreamer.geometry.grid import sample_grid, voxel_size
from latentdreamer.geometry.thin_shapes import thin_shape
from latentdreamer.geometry.training_shapes import TrainingShape
from latentdreamer.models.checkpoint import load_checkpoint
from latentdreamer.models.trained_sae import export_sae
from latentdreamer.models.weights_file import sha256_file
from latentdreamer.train.sae import (
    EVAL_SEED_BASE,
    SAETrainConfig,
    SAETrainer,
    exact_samples,
    load_config,
    reconstruction_loss,
    sample_points,
    shape_batch,
    stack_sdf,
)

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "sae" / "tiny.json"


def _configs(**train):
    model_cfg, train_cfg = load_config(CONFIG)
    return model_cfg, replace(train_cfg, **{"eval_every": 0, **train})


def _heldout_loss(trainer: SAETrainer) -> float:
    """Reconstruction loss through the posterior mean on fixed unseen shapes and points."""
    cfg, mcfg = trainer.train_cfg, trainer.model.config
    sdf = stack_sdf([trainer.shape_fn(EVAL_SEED_BASE + i, mcfg.resolution) for i in range(4)])
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
        shape_batch(lambda s, r: TrainingShape(np.zeros((r, r, r), np.float32)), EVAL_SEED_BASE // 2, 2, 8)


def _exact(**train):
    return _configs(shapes="mixed", targets="exact", **train)


def test_exact_targets_sit_on_and_around_thin_walls():
    shape = thin_shape(3, 32)
    gen = torch.Generator().manual_seed(0)
    h = voxel_size(32)
    points = sample_points(torch.from_numpy(shape.sdf), 2000, 0.6, 2 * h, gen)
    moved, target = exact_samples(shape.distance, points, 600, 0.004, gen)
    assert moved.shape == points.shape and moved.dtype == torch.float32
    torch.testing.assert_close(moved[600:], points[600:])  # only the near share moves
    np.testing.assert_allclose(target.numpy(), shape.distance(moved.double().numpy()), atol=1e-6)
    # The moved points hug the exact surface (N(0, 4 mm)), far closer than a voxel (34 mm)...
    assert target[:600].abs().median() < 0.006 < 0.2 * h
    # ... with both signs, so walls thinner than a voxel get inside points too.
    assert (target[:600] < 0).float().mean() > 0.2
    assert (target[:600] > 0).float().mean() > 0.2
    # The grid's trilinear value there is off by more than the walls are thin: what "grid" targets teach.
    grid_target = sample_grid(torch.from_numpy(shape.sdf)[None, None], moved[None])[0, :, 0]
    assert (grid_target[:600] - target[:600]).abs().mean() > 0.003


def test_exact_targets_train_and_log_the_point_iou(tmp_path: Path):
    trainer = SAETrainer(*_exact(eval_every=2, eval_shapes=2), tmp_path / "run")
    trainer.train_until(2, progress=False)
    assert "eval_exact_point_iou" in trainer.meta["last_eval"]
    assert 0.0 <= trainer.meta["last_eval"]["eval_exact_point_iou"] <= 1.0


def test_resume_is_exact_with_exact_targets(tmp_path: Path):
    straight = SAETrainer(*_exact(), tmp_path / "a")
    straight.train_until(3, progress=False)
    first = SAETrainer(*_exact(), tmp_path / "b")
    first.train_until(1, progress=False)
    second = SAETrainer(*_exact(), tmp_path / "b", resume=True)
    second.train_until(3, progress=False)
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), second.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_a_fresh_run_can_start_from_shipped_weights(tmp_path: Path):
    model_cfg, train_cfg = _configs()
    donor = SAETrainer(model_cfg, train_cfg, tmp_path / "donor")
    donor.train_until(1, progress=False)
    weights = tmp_path / "donor.safetensors"
    export_sae(donor.model, weights, {"training": {"steps": 1}})
    run = SAETrainer(model_cfg, replace(train_cfg, init_weights=str(weights)), tmp_path / "run")
    for (name, a), (_, b) in zip(donor.model.state_dict().items(), run.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert run.meta["init"] == {"weights": str(weights), "sha256": sha256_file(weights), "steps": 1}
    run.train_until(1, progress=False)
    donor_copy = tmp_path / "copy.safetensors"
    export_sae(donor.model, donor_copy, {})
    # On resume the checkpoint wins, whatever the weights file now holds.
    weights.write_bytes(b"not weights")
    resumed = SAETrainer(model_cfg, replace(train_cfg, init_weights=str(weights)), tmp_path / "run", resume=True)
    assert resumed.step == 1 and resumed.meta["init"]["steps"] == 1
    other = replace(model_cfg, point_hidden=model_cfg.point_hidden * 2)
    with pytest.raises(ValueError, match="config differs"):
        SAETrainer(other, replace(train_cfg, init_weights=str(donor_copy)), tmp_path / "x")


def test_train_config_names_are_checked():
    with pytest.raises(ValueError, match="shapes"):
        SAETrainConfig(shapes="teapots")
    with pytest.raises(ValueError, match="targets"):
        SAETrainConfig(targets="mesh")
