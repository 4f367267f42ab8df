"""Training the SAE on streamed random shapes, with exact resume.

Everything random in step s is a pure function of (seed, s): the shapes are
`random_sdf(s * batch + i)`, and the point samples and the VAE noise come from a generator
seeded with (seed, s). So the data need no disk, a resumed run replays exactly the steps an
uninterrupted one would, and the only state a checkpoint must carry is the model, the
optimiser and the step. Training seeds stay below EVAL_SEED_BASE; evaluation uses seeds from
it upward, so no evaluated shape was ever seen in training.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentdreamer.config import strict_from_dict
from latentdreamer.geometry.grid import sample_grid, voxel_size
from latentdreamer.models.checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint
from latentdreamer.models.sae import SAE, SAEConfig, kl_divergence, sample_posterior
from latentdreamer.train.loop import train_until

EVAL_SEED_BASE = 10**9
"""Shape seeds >= this are reserved for evaluation."""

ShapeFn = Callable[[int, int], np.ndarray]


@dataclass(frozen=True)
class SAETrainConfig:
    seed: int = 0
    steps: int = 10000
    batch_size: int = 8
    points_per_shape: int = 4096
    near_surface_fraction: float = 0.6
    """Share of points drawn from samples within `near_band_voxels` of the surface."""
    near_band_voxels: float = 2.0
    surface_weight: float = 4.0
    """Extra L1 weight on points near the surface: w = 1 + surface_weight * exp(-|sdf| / h)."""
    kl_weight: float = 1e-4
    mask_weight: float = 0.0
    """Render losses (train/sae_render.py); 0 skips them. See the ablation in the model card."""
    normal_weight: float = 0.0
    flexi_reg_weight: float = 0.0
    render_resolution: int = 32
    render_views: int = 2
    render_image_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 200
    """Linear warm-up, then a constant rate: a run can be extended by --resume without the
    schedule changing under it."""
    grad_clip: float = 1.0
    checkpoint_every: int = 100
    log_every: int = 10
    eval_every: int = 500
    eval_shapes: int = 8
    threads: int = 1
    """torch threads (0 keeps torch's default). One thread: on a shared 2-core machine a
    2-thread OpenMP step waits on the busier core and runs up to 15x slower."""

    @classmethod
    def from_dict(cls, d: dict) -> SAETrainConfig:
        return strict_from_dict(cls, d, "SAE train config")


def load_config(path: str | Path) -> tuple[SAEConfig, SAETrainConfig]:
    """A config file is {"model": {...SAEConfig}, "train": {...SAETrainConfig}}."""
    d = json.loads(Path(path).read_text())
    unknown = set(d) - {"model", "train", "comment"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)} (expected model, train)")
    return SAEConfig.from_dict(d.get("model", {})), SAETrainConfig.from_dict(d.get("train", {}))


def default_shape_fn(seed: int, resolution: int) -> np.ndarray:
    from latentdreamer.geometry.random_shapes import random_sdf

    return random_sdf(seed, resolution)


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63 - 1))


def sample_points(sdf: torch.Tensor, count: int, near_fraction: float, band: float, gen: torch.Generator) -> torch.Tensor:
    """(count, 3) points: a share jittered around samples near the surface, the rest uniform.

    Near points are what decide the mesh; uniform points keep the far field's sign right
    (no floaters). Jitter of half a voxel makes the decoder a function of position, not of
    the lattice the training grids happened to use.
    """
    from latentdreamer.geometry.grid import HALF_EXTENT

    n = sdf.shape[-1]
    h = voxel_size(n)
    flat = sdf.reshape(-1)
    near_idx = torch.nonzero(flat.abs() < band).squeeze(1)
    n_near = int(round(count * near_fraction)) if len(near_idx) else 0
    pick = near_idx[torch.randint(len(near_idx), (n_near,), generator=gen)] if n_near else near_idx[:0]
    ijk = torch.stack([pick // (n * n), (pick // n) % n, pick % n], dim=1).to(torch.float32)
    near = -HALF_EXTENT + ijk * h + (torch.rand(n_near, 3, generator=gen) - 0.5) * h
    uniform = (torch.rand(count - n_near, 3, generator=gen) * 2.0 - 1.0) * HALF_EXTENT
    return torch.cat([near, uniform], dim=0).clamp(-HALF_EXTENT, HALF_EXTENT)


def shape_batch(shape_fn: ShapeFn, step: int, batch: int, resolution: int) -> torch.Tensor:
    seeds = [step * batch + i for i in range(batch)]
    if seeds[-1] >= EVAL_SEED_BASE:
        raise RuntimeError("training ran into the evaluation seed range; raise EVAL_SEED_BASE")
    return torch.from_numpy(np.stack([shape_fn(s, resolution) for s in seeds]))


def reconstruction_loss(
    pred: torch.Tensor, target: torch.Tensor, truncation: float, h: float, surface_weight: float
) -> torch.Tensor:
    """Near-surface weighted L1 against the truncated SDF, in units of the truncation."""
    target = target.clamp(-truncation, truncation)
    w = 1.0 + surface_weight * torch.exp(-target.abs() / h)
    return (w * (pred - target).abs()).sum() / w.sum() / truncation


def grid_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Volume IoU of the insides (sdf < 0) of two batches of grids, per shape."""
    ia, ib = a < 0, b < 0
    inter = (ia & ib).flatten(1).sum(1).float()
    union = (ia | ib).flatten(1).sum(1).float().clamp(min=1)
    return inter / union


@torch.no_grad()
def quick_eval(model: SAE, shape_fn: ShapeFn, count: int) -> dict[str, float]:
    """Grid-level round-trip IoU on held-out seeds, cheap enough to log during training."""
    was_training = model.training
    model.eval()
    r = model.config.resolution
    sdf = torch.from_numpy(np.stack([shape_fn(EVAL_SEED_BASE + i, r) for i in range(count)]))
    mean, _ = model.encode(sdf)
    rec = model.decode_grid(mean, r)
    model.train(was_training)
    return {"eval_grid_iou": float(grid_iou(rec, sdf).mean())}


class SAETrainer:
    """Owns the model, the optimiser and the run directory; `train_until(step)` does the work."""

    def __init__(
        self,
        model_cfg: SAEConfig,
        train_cfg: SAETrainConfig,
        out: str | Path,
        shape_fn: ShapeFn = default_shape_fn,
        resume: bool = False,
        command: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        """`changes`: train settings to change on resume even though they alter the trajectory
        (e.g. a lower learning rate for a later session); recorded in the run's entry."""
        self.out = Path(out)
        self.shape_fn = shape_fn
        self.train_cfg = train_cfg
        if train_cfg.threads:
            _set_threads(train_cfg.threads)
        self.meta: dict[str, Any] = {"runs": [], "wall_seconds": 0.0, "shapes_seen": 0}
        if checkpoint_exists(self.out):
            if not resume:
                raise FileExistsError(
                    f"{self.out} already holds a checkpoint: pass --resume to continue it, or choose another --out"
                )
            saved = json.loads((self.out / "checkpoint.json").read_text())
            model_cfg = SAEConfig.from_dict(saved["model"])
            self.train_cfg = train_cfg = SAETrainConfig.from_dict({**saved["train"], **_overrides(train_cfg), **(changes or {})})
        torch.manual_seed(train_cfg.seed)
        self.model = SAE(model_cfg)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=train_cfg.lr)
        self.step = 0
        if checkpoint_exists(self.out):
            self.meta = load_checkpoint(self.out, self.model, self.optimizer)
            self.step = int(self.meta["step"])
        from latentdreamer.models.weights_file import code_commit, hardware_description

        self.meta.setdefault("runs", []).append(
            {
                "command": command or shlex.join(sys.argv),
                "start_step": self.step,
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "hardware": hardware_description(),
                "code_commit": code_commit(),
                "changes": changes or {},
            }
        )

    def _lr(self, step: int) -> float:
        warm = self.train_cfg.warmup_steps
        return self.train_cfg.lr * min(1.0, (step + 1) / warm) if warm else self.train_cfg.lr

    def train_step(self, step: int) -> dict[str, float]:
        cfg, mcfg = self.train_cfg, self.model.config
        gen = step_generator(cfg.seed, step)
        sdf = shape_batch(self.shape_fn, step, cfg.batch_size, mcfg.resolution)
        h = voxel_size(mcfg.resolution)
        points = torch.stack(
            [sample_points(s, cfg.points_per_shape, cfg.near_surface_fraction, cfg.near_band_voxels * h, gen) for s in sdf]
        )
        target = sample_grid(sdf.unsqueeze(1), points).squeeze(-1)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr(step)
        mean, logvar = self.model.encode(sdf)
        z = sample_posterior(mean, logvar, gen)
        features = self.model.trunk(z)
        pred = self.model.decode_points(z, points, features)
        recon = reconstruction_loss(pred, target, mcfg.truncation, h, cfg.surface_weight)
        kl = kl_divergence(mean, logvar)
        loss = recon + cfg.kl_weight * kl
        extra: dict[str, float] = {}
        if cfg.mask_weight or cfg.normal_weight or cfg.flexi_reg_weight:
            from latentdreamer.train.sae_render import render_losses

            terms = render_losses(
                self.model, z, features, sdf, gen, cfg.render_resolution, cfg.render_views, cfg.render_image_size
            )
            loss = (
                loss
                + cfg.mask_weight * terms["mask"]
                + cfg.normal_weight * terms["normal"]
                + cfg.flexi_reg_weight * terms["flexi_reg"]
            )
            extra = {k: v.item() for k, v in terms.items()}
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        with torch.no_grad():
            sign_acc = ((pred < 0) == (target < 0)).float().mean()
        return {
            "loss": loss.item(),
            "recon": recon.item(),
            "kl": kl.item(),
            "grad_norm": gnorm.item(),
            "sign_acc": sign_acc.item(),
            **extra,
        }

    def save(self) -> None:
        meta = dict(self.meta)
        meta["model"] = self.model.config.to_dict()
        meta["train"] = asdict(self.train_cfg)
        save_checkpoint(self.out, self.model, self.optimizer, self.step, meta)

    def quick_eval(self) -> dict[str, float]:
        return quick_eval(self.model, self.shape_fn, self.train_cfg.eval_shapes)

    def train_until(self, total_steps: int, progress: bool = True) -> dict[str, float]:
        """Run steps self.step .. total_steps-1 with the shared loop (checkpoints, log, clean stop)."""
        return train_until(self, total_steps, "sae", progress, lr=self._lr)


def _set_threads(threads: int) -> None:
    """torch's and numba's (the rasteriser's) thread pools both; see SAETrainConfig.threads."""
    import numba

    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def _overrides(cfg: SAETrainConfig) -> dict[str, Any]:
    """On resume the saved train config wins except for settings that do not change the
    trajectory (logging, checkpoint cadence, threads, the step target)."""
    keep = ("steps", "checkpoint_every", "log_every", "eval_every", "eval_shapes", "threads")
    return {k: getattr(cfg, k) for k in keep}
