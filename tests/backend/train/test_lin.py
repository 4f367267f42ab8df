from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from latentdreamer.geometry.random_shapes import random_sdf
from latentdreamer.geometry.training_shapes import TrainingShape
from latentdreamer.models.checkpoint import load_checkpoint
from latentdreamer.models.lin import LIN, latent_loss
from latentdreamer.models.sae import SAE
from latentdreamer.models.trained_sae import export_sae
from latentdreamer.models.weights_file import WeightsError
from latentdreamer.train.lin import LINTrainer, load_config, resolve_sae
from latentdreamer.train.lin_data import LINDataConfig, augment_views, gaussian_blur, morph_masks, training_views
from latentdreamer.train.sae import load_config as sae_config
from latentdreamer.train.sae import step_generator

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "lin" / "tiny.json"
SAE_CONFIG = sae_config(CONFIG.parents[1] / "sae" / "tiny.json")[0]


@cache
def _shape(seed: int, resolution: int) -> np.ndarray:
    return random_sdf(seed, resolution)


def _few_shapes(seed: int, resolution: int) -> TrainingShape:
    """Four shapes repeated: a set small enough to fit in a few steps (and cached, so tests stay fast)."""
    return TrainingShape(_shape(seed % 4, resolution))


def _sae(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    export_sae(SAE(SAE_CONFIG), path, {"steps": 0})
    return path


def _trainer(out: Path, sae: Path, **kw) -> LINTrainer:
    model_cfg, data_cfg, train_cfg = load_config(CONFIG)
    return LINTrainer(model_cfg, data_cfg, replace(train_cfg, eval_every=0), out, sae, shape_fn=_few_shapes, **kw)


def test_loss_goes_down(tmp_path: Path):
    """Without the hull residual, so the network has to learn the whole latent from the views."""
    model_cfg, data_cfg, train_cfg = load_config(CONFIG)
    trainer = LINTrainer(
        replace(model_cfg, residual="none"),
        data_cfg,
        replace(train_cfg, eval_every=0),
        tmp_path / "run",
        _sae(tmp_path / "sae.safetensors"),
        shape_fn=_few_shapes,
    )
    fixed = [trainer.batch(s) for s in range(2)]  # all four shapes, fixed views
    assert fixed[0][1] is None

    def loss() -> float:
        with torch.no_grad():
            return float(np.mean([latent_loss(trainer.model(v), t).item() for v, _, t in fixed]))

    before = loss()
    trainer.train_until(12, progress=False)
    after = loss()
    assert after < 0.5 * before, (before, after)
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 12
    ev = trainer.quick_eval()
    assert set(ev) == {"eval_mse", "eval_mse_masks_only", "eval_mse_zero", "eval_mse_hull", "eval_grid_iou", "eval_grid_iou_hull"}
    assert 0 <= ev["eval_grid_iou"] <= 1 and 0 <= ev["eval_grid_iou_hull"] <= 1 and ev["eval_mse_hull"] < ev["eval_mse_zero"]


def test_hull_residual_starts_at_the_hull_and_then_moves(tmp_path: Path):
    trainer = _trainer(tmp_path / "run", _sae(tmp_path / "sae.safetensors"))
    assert trainer.model.config.residual == "hull"
    views, base, target = trainer.batch(0)
    with torch.no_grad():
        assert torch.equal(trainer.model(views, base), base)
    assert latent_loss(base, target) < target.square().mean()  # the hull already explains most of the latent
    trainer.train_until(2, progress=False)
    with torch.no_grad():
        assert not torch.equal(trainer.model(views, base), base)
    with pytest.raises(ValueError, match="hull"):
        trainer.model(views)


def test_resume_is_exact(tmp_path: Path):
    sae = _sae(tmp_path / "sae.safetensors")
    straight = _trainer(tmp_path / "a", sae)
    straight.train_until(4, progress=False)

    first = _trainer(tmp_path / "b", sae)
    first.train_until(2, progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        _trainer(tmp_path / "b", sae)
    second = _trainer(tmp_path / "b", sae, resume=True)
    assert second.step == 2
    second.train_until(4, progress=False)
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, second.model.state_dict()[k]), k
    for p, q in zip(straight.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(straight.optimizer.state[p]["exp_avg_sq"], second.optimizer.state[q]["exp_avg_sq"])
    meta = load_checkpoint(tmp_path / "b", LIN(second.model.config))
    assert meta["step"] == 4 and len(meta["runs"]) == 2 and meta["sae"]["sha256"] == second.meta["sae"]["sha256"]


def test_resume_refuses_another_sae_unless_retargeting(tmp_path: Path):
    sae_a, sae_b = _sae(tmp_path / "a.safetensors", 0), _sae(tmp_path / "b.safetensors", 1)
    _trainer(tmp_path / "run", sae_a).train_until(1, progress=False)
    with pytest.raises(WeightsError, match="--retarget-sae"):
        _trainer(tmp_path / "run", sae_b, resume=True)
    moved = _trainer(tmp_path / "run", sae_b, resume=True, retarget_sae=True)
    assert moved.meta["sae"]["path"] == str(sae_b) and moved.meta["sae_history"][0]["path"] == str(sae_a)
    moved.train_until(2, progress=False)
    assert resolve_sae(None, tmp_path / "run") == sae_b  # a plain --resume keeps the retargeted SAE


def test_sae_run_directory_is_snapshotted(tmp_path: Path):
    from latentdreamer.models.checkpoint import save_checkpoint
    from latentdreamer.models.sae import SAE
    from latentdreamer.models.weights_file import read_card

    torch.manual_seed(0)
    sae = SAE(SAE_CONFIG)
    save_checkpoint(tmp_path / "sae_run", sae, torch.optim.Adam(sae.parameters()), 7, {"model": SAE_CONFIG.to_dict()})
    path = resolve_sae(tmp_path / "sae_run", tmp_path / "lin_run")
    assert path == tmp_path / "lin_run" / "sae.safetensors" and read_card(path)["step"] == 7
    assert resolve_sae(None, tmp_path / "lin_run") == path


def test_a_checkpoint_loaded_residual_lin_predicts_on_its_own(tmp_path: Path):
    from latentdreamer.models.lin import load_lin_checkpoint
    from latentdreamer.models.trained_sae import load_sae

    sae = _sae(tmp_path / "sae_run" / "sae.safetensors")
    _trainer(tmp_path / "run", sae).train_until(1, progress=False)
    moved = tmp_path / "moved"
    (tmp_path / "run").rename(moved)
    (tmp_path / "sae_run").rename(tmp_path / "gone")  # the path the checkpoint recorded no longer exists
    (tmp_path / "gone" / "sae.safetensors").rename(moved / "sae.safetensors")  # but the run folder holds its snapshot
    (tmp_path / "gone" / "sae.json").rename(moved / "sae.json")
    lin, record = load_lin_checkpoint(moved)
    mask = torch.zeros(1, 6, 32, 32, 1)
    mask[..., 8:24, 8:24, :] = 1
    torch.testing.assert_close(lin.predict(mask, None), lin.predict(mask, None, sae=load_sae(moved / "sae.safetensors")))


def test_training_views_are_a_function_of_seed_and_step():
    sdf = torch.from_numpy(np.stack([_shape(s, 32) for s in range(2)]))
    cfg = LINDataConfig(image_size=32, drop_normals_probability=0.5)
    a = training_views(sdf, cfg, step_generator(0, 5))
    b = training_views(sdf, cfg, step_generator(0, 5))
    c = training_views(sdf, cfg, step_generator(0, 6))
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    assert not torch.equal(a[0], c[0])
    mask, normals, has = a
    assert mask.shape == (2, 6, 32, 32, 1) and normals.shape == (2, 6, 32, 32, 3) and has.shape == (2,)
    assert 0.0 <= mask.min() and mask.max() <= 1.0 and mask.mean() > 0.05


def test_augmentations_do_what_they_say():
    g = torch.Generator().manual_seed(0)
    square = torch.zeros(3, 1, 9, 9)
    square[:, :, 3:6, 3:6] = 1
    morphed = morph_masks(square, torch.tensor([-1, 0, 1]))
    assert morphed[0].sum() == 1 and morphed[1].sum() == 9 and morphed[2].sum() == 25
    blurred = gaussian_blur(square, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(blurred[0], square[0])
    torch.testing.assert_close(blurred.sum((1, 2, 3)), square.sum((1, 2, 3)))  # normalised kernel, support inside
    assert blurred[2, 0, 4, 4] < blurred[1, 0, 4, 4] < 1
    mask = torch.zeros(4, 6, 16, 16, 1)
    mask[..., 4:12, 4:12, :] = 1
    normals = torch.full((4, 6, 16, 16, 3), 0.5)
    normals[..., 4:12, 4:12, 2] = 1.0  # facing the camera
    cfg = LINDataConfig(
        image_size=16, drop_normals_probability=0.5, normal_noise_max=0.0, blur_sigma_max=0.0, mask_morph_probability=0.0
    )
    m, n, has = augment_views(mask, normals, cfg, g)
    torch.testing.assert_close(m, mask)
    assert 0 < has.sum() < 4
    for b in range(4):
        assert torch.equal(n[b], normals[b]) if has[b] else bool((n[b] == 0.5).all())


def test_the_config_names_the_shape_distribution(tmp_path: Path):
    """A LIN for an SAE fine-tuned on thin parts trains on the same "mixed" shapes it saw."""
    from latentdreamer.geometry.training_shapes import training_shape

    model_cfg, data_cfg, train_cfg = load_config(CONFIG)
    with pytest.raises(ValueError, match="shapes must be one of"):
        replace(train_cfg, shapes="chairs")
    trainer = LINTrainer(
        model_cfg,
        data_cfg,
        replace(train_cfg, eval_every=0, shapes="mixed"),
        tmp_path / "run",
        _sae(tmp_path / "sae.safetensors"),
    )
    r = SAE_CONFIG.resolution
    for seed in (2, 3):  # mixed: blocks on even seeds, thin parts on odd ones
        assert np.array_equal(trainer.shape_fn(seed, r).sdf, training_shape("mixed", seed, r).sdf)
    assert not np.array_equal(trainer.shape_fn(3, r).sdf, training_shape("blocks", 3, r).sdf)
