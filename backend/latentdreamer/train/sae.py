"""Training the SAE on streamed random shapes, with exact resume.

Everything random in step s is a pure function of (seed, s): the shapes are seeds
`s * batch + i` of the config's named distribution (geometry/training_shapes.py), and the point samples and the VAE noise come from a generator
seeded with (seed, s). So the data need no disk, a resumed run replays exactly the steps an
uninterrupted one would, and the only state a checkpoint must carry is the model, the
optimiser and the step. Training seeds stay below EVAL_SEED_BASE; evaluation uses seeds from
it upward, so no evaluated shape was ever seen in training.

Targets: "grid" reads the training SDF grid at the sampled points (trilinear), so the decoder
learns at most what the 64^3 grid holds; "exact" asks shapes that know their exact distance
(thin objects) for it at the points, and moves a share of the near points onto the exact
surface first, so the point decoder learns walls and rods thinner than a voxel of its input.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentdreamer.config import strict_from_dict
from latentdreamer.geometry.grid import HALF_EXTENT, sample_grid, voxel_size
from latentdreamer.geometry.training_shapes import DISTRIBUTIONS, DistanceFn, TrainingShape, training_shape
from latentdreamer.models.checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint
from latentdreamer.models.sae import SAE, SAEConfig, kl_divergence, sample_posterior
from latentdreamer.train.loop import train_until

EVAL_SEED_BASE = 10**9
"""Shape seeds >= this are reserved for evaluation."""

ShapeFn = Callable[[int, int], TrainingShape]
"""(seed, resolution) -> shape; the trainer's default is the config's named distribution."""

TARGETS: tuple[str, ...] = ("grid", "exact")
QUICK_EVAL_POINTS = 1 << 16


@dataclass(frozen=True)
class SAETrainConfig:
    seed: int = 0
    steps: int = 10000
    shapes: str = "blocks"
    """Named shape distribution (geometry/training_shapes.py); "blocks" is what the shipped SAE saw."""
    targets: str = "grid"
    """"grid" or "exact" (module docstring); "exact" changes nothing for shapes without a distance."""
    exact_surface_fraction: float = 0.3
    """With exact targets: share of each shape's points moved onto the exact surface, then
    offset along its normal by N(0, exact_surface_sigma) (metres)."""
    exact_surface_sigma: float = 0.004
    init_weights: str = ""
    """A fresh run starts from these SAE weights (a .safetensors with its card; relative to the
    working directory) instead of random ones: fine-tuning costs a fraction of training from
    scratch. Ignored on resume, where the checkpoint holds the model."""
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

    def __post_init__(self) -> None:
        if self.shapes not in DISTRIBUTIONS:
            raise ValueError(f"shapes must be one of {DISTRIBUTIONS}, got {self.shapes!r}")
        if self.targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}, got {self.targets!r}")
        if not 0.0 <= self.exact_surface_fraction <= self.near_surface_fraction:
            raise ValueError("exact_surface_fraction must lie in [0, near_surface_fraction] (it moves near points)")

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


def step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63 - 1))


def sample_points(sdf: torch.Tensor, count: int, near_fraction: float, band: float, gen: torch.Generator) -> torch.Tensor:
    """(count, 3) points: a share jittered around samples near the surface, the rest uniform.

    Near points are what decide the mesh; uniform points keep the far field's sign right
    (no floaters). Jitter of half a voxel makes the decoder a function of position, not of
    the lattice the training grids happened to use.
    """
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


def exact_samples(
    distance: DistanceFn, points: torch.Tensor, surface_count: int, sigma: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(points, exact signed distances): the first `surface_count` points (the near ones, see
    sample_points) are first projected onto the surface, p - d(p) grad d(p), and offset along
    the normal by N(0, sigma), so thin walls get points on both faces and inside them, which
    jittered lattice samples (a voxel apart) mostly miss.
    """
    p = points.to(torch.float64).numpy().copy()
    near = p[:surface_count]
    eps = 1e-5
    grad = np.stack([(distance(near + e) - distance(near - e)) / (2 * eps) for e in np.eye(3) * eps], axis=1)
    normal = grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-12)
    offset = torch.randn(surface_count, generator=gen, dtype=torch.float64).numpy() * sigma
    p[:surface_count] = near - (distance(near) - offset)[:, None] * normal
    p = np.clip(p, -HALF_EXTENT, HALF_EXTENT).astype(np.float32)
    return torch.from_numpy(p), torch.from_numpy(distance(p.astype(np.float64)).astype(np.float32))


def shape_batch(shape_fn: ShapeFn, step: int, batch: int, resolution: int) -> list[TrainingShape]:
    seeds = [step * batch + i for i in range(batch)]
    if seeds[-1] >= EVAL_SEED_BASE:
        raise RuntimeError("training ran into the evaluation seed range; raise EVAL_SEED_BASE")
    return [shape_fn(s, resolution) for s in seeds]


def stack_sdf(shapes: list[TrainingShape]) -> torch.Tensor:
    return torch.from_numpy(np.stack([s.sdf for s in shapes]))


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
    """Round-trip IoU on held-out seeds, cheap enough to log during training: on the grid,
    and for shapes with an exact distance also on uniform points against it (a grid misses
    thin parts; uniform points weigh them by their volume, as the evaluation's IoU does)."""
    was_training = model.training
    model.eval()
    r = model.config.resolution
    shapes = [shape_fn(EVAL_SEED_BASE + i, r) for i in range(count)]
    sdf = stack_sdf(shapes)
    mean, _ = model.encode(sdf)
    rec = model.decode_grid(mean, r)
    out = {"eval_grid_iou": float(grid_iou(rec, sdf).mean())}
    exact = [i for i, s in enumerate(shapes) if s.distance is not None]
    if exact:
        gen = torch.Generator().manual_seed(0)
        pts = (torch.rand(len(exact), QUICK_EVAL_POINTS, 3, generator=gen) * 2.0 - 1.0) * HALF_EXTENT
        pred = model.decode_points(mean[exact], pts)
        truth = torch.stack([torch.from_numpy(shapes[i].distance(p.double().numpy())) for i, p in zip(exact, pts, strict=True)])
        out["eval_exact_point_iou"] = float(grid_iou(pred, truth).mean())
    model.train(was_training)
    return out


class SAETrainer:
    """Owns the model, the optimiser and the run directory; `train_until(step)` does the work."""

    def __init__(
        self,
        model_cfg: SAEConfig,
        train_cfg: SAETrainConfig,
        out: str | Path,
        shape_fn: ShapeFn | None = None,
        resume: bool = False,
        command: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        """`changes`: train settings to change on resume even though they alter the trajectory
        (e.g. a lower learning rate for a later session); recorded in the run's entry."""
        self.out = Path(out)
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
        self.shape_fn = shape_fn or partial(training_shape, train_cfg.shapes)
        torch.manual_seed(train_cfg.seed)
        self.model = SAE(model_cfg)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=train_cfg.lr)
        self.step = 0
        if checkpoint_exists(self.out):
            self.meta = load_checkpoint(self.out, self.model, self.optimizer)
            self.step = int(self.meta["step"])
        elif train_cfg.init_weights:
            self.meta["init"] = _load_initial_weights(self.model, train_cfg.init_weights)
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
        shapes = shape_batch(self.shape_fn, step, cfg.batch_size, mcfg.resolution)
        sdf = stack_sdf(shapes)
        h = voxel_size(mcfg.resolution)
        points = torch.stack(
            [sample_points(s, cfg.points_per_shape, cfg.near_surface_fraction, cfg.near_band_voxels * h, gen) for s in sdf]
        )
        target = sample_grid(sdf.unsqueeze(1), points).squeeze(-1)
        if cfg.targets == "exact":
            surface_count = int(round(cfg.points_per_shape * cfg.exact_surface_fraction))
            for i, shape in enumerate(shapes):
                if shape.distance is not None:
                    points[i], target[i] = exact_samples(shape.distance, points[i], surface_count, cfg.exact_surface_sigma, gen)
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


def _load_initial_weights(model: SAE, path: str) -> dict[str, Any]:
    """Load shipped SAE weights into a fresh model; the architectures must match exactly."""
    from latentdreamer.models.weights_file import load_weights

    tensors, card = load_weights(path)
    if SAEConfig.from_dict(card["config"]) != model.config:
        raise ValueError(f"init_weights {path}: its model card's config differs from this run's model config")
    model.load_state_dict(tensors, strict=True)
    return {"weights": str(path), "sha256": card["sha256"], "steps": card.get("training", {}).get("steps")}


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
