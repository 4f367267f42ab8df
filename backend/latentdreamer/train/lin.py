"""Training LIN against a frozen SAE, on views of streamed random shapes, with exact resume.

Step s draws shapes `s * batch + i` of the config's named distribution (`shapes`,
geometry/training_shapes.py: the SAE trainer's seeds, all below EVAL_SEED_BASE; the shipped
LIN saw "blocks", a LIN for an SAE fine-tuned on thin parts sees its "mixed"), their targets
are the SAE encoder's means, and the views and their degradations come from a generator
seeded with (seed, s) (train/lin_data.py). The SAE is
part of the run's identity: its sha256 is stored in the checkpoint, a resume with another
SAE is refused unless asked for (`retarget_sae`, which fine-tunes towards the new SAE's
latents and is recorded), and the exported LIN card names it so `load_lin` can refuse a
mismatched pair.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from latentdreamer.config import strict_from_dict
from latentdreamer.geometry.training_shapes import DISTRIBUTIONS, training_shape
from latentdreamer.models.checkpoint import checkpoint_exists, load_checkpoint, save_checkpoint
from latentdreamer.models.lin import LIN, LINConfig, hull_latent, latent_loss
from latentdreamer.models.sae import SAE
from latentdreamer.models.weights_file import WeightsError
from latentdreamer.train.lin_data import LINDataConfig, training_views
from latentdreamer.train.loop import train_until
from latentdreamer.train.sae import EVAL_SEED_BASE, ShapeFn, grid_iou, shape_batch, stack_sdf, step_generator

SAE_SNAPSHOT = "sae.safetensors"
"""Name, inside a LIN run directory, of the SAE snapshot taken from a training run."""


@dataclass(frozen=True)
class LINTrainConfig:
    seed: int = 0
    steps: int = 2000
    shapes: str = "blocks"
    """Named shape distribution (geometry/training_shapes.py), as in SAETrainConfig."""
    batch_size: int = 8
    lr: float = 5e-4
    warmup_steps: int = 50
    """Linear warm-up, then constant: a run can be extended by --resume without its schedule changing."""
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    checkpoint_every: int = 25
    log_every: int = 5
    eval_every: int = 50
    eval_shapes: int = 8
    threads: int = 1
    """torch threads (0 keeps torch's default); one thread on shared 2-core machines (see SAETrainConfig)."""

    def __post_init__(self) -> None:
        if self.shapes not in DISTRIBUTIONS:
            raise ValueError(f"shapes must be one of {DISTRIBUTIONS}, got {self.shapes!r}")

    @classmethod
    def from_dict(cls, d: dict) -> LINTrainConfig:
        return strict_from_dict(cls, d, "LIN train config")


def load_config(path: str | Path) -> tuple[LINConfig, LINDataConfig, LINTrainConfig]:
    """A config file is {"model": {...LINConfig}, "data": {...LINDataConfig}, "train": {...LINTrainConfig}}."""
    d = json.loads(Path(path).read_text())
    unknown = set(d) - {"model", "data", "train", "comment"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)} (expected model, data, train)")
    model = LINConfig.from_dict(d.get("model", {}))
    data = LINDataConfig.from_dict(d.get("data", {}))
    if data.image_size != model.image_size:
        raise ValueError(f"{path}: data.image_size {data.image_size} != model.image_size {model.image_size}")
    return model, data, LINTrainConfig.from_dict(d.get("train", {}))


def resolve_sae(source: str | os.PathLike | None, out: Path) -> Path:
    """The SAE weights file a run trains against.

    A training run directory (models/checkpoint.py) is exported to `out/sae.safetensors`
    first, so the pairing is with a file whose sha256 can be checked later; None means the
    SAE the run's checkpoint last trained against, else the run's snapshot, else the shipped SAE.
    """
    from latentdreamer.models.trained_sae import DEFAULT_SAE_WEIGHTS, export_sae, load_sae_checkpoint

    if source is None:
        meta = out / "checkpoint.json"
        recorded = Path(json.loads(meta.read_text())["sae"]["path"]) if meta.is_file() else None
        snapshot = out / SAE_SNAPSHOT
        for candidate in (recorded, snapshot):
            if candidate is not None and candidate.is_file():
                return candidate
        return DEFAULT_SAE_WEIGHTS
    source = Path(source)
    if source.is_dir():
        meta = json.loads((source / "checkpoint.json").read_text())
        snapshot = out / SAE_SNAPSHOT
        export_sae(
            load_sae_checkpoint(source),
            snapshot,
            {"source": str(source), "step": meta["step"], "snapshot_of": "training checkpoint"},
        )
        return snapshot
    return source


class LINTrainer:
    """Owns LIN, its optimiser, the frozen SAE and the run directory."""

    def __init__(
        self,
        model_cfg: LINConfig,
        data_cfg: LINDataConfig,
        train_cfg: LINTrainConfig,
        out: str | Path,
        sae_path: str | os.PathLike,
        shape_fn: ShapeFn | None = None,
        resume: bool = False,
        retarget_sae: bool = False,
        command: str | None = None,
    ) -> None:
        from latentdreamer.models.trained_sae import load_sae
        from latentdreamer.models.weights_file import read_card

        self.out = Path(out)
        self.sae: SAE = load_sae(sae_path)
        for p in self.sae.parameters():
            p.requires_grad_(False)
        sae_sha = read_card(sae_path)["sha256"]
        self.meta: dict[str, Any] = {"runs": [], "wall_seconds": 0.0, "shapes_seen": 0}
        existing = checkpoint_exists(self.out)
        if existing:
            if not resume:
                raise FileExistsError(
                    f"{self.out} already holds a checkpoint: pass --resume to continue it, or choose another --out"
                )
            saved = json.loads((self.out / "checkpoint.json").read_text())
            model_cfg = LINConfig.from_dict(saved["model"])
            data_cfg = LINDataConfig.from_dict(saved["data"])
            train_cfg = LINTrainConfig.from_dict({**saved["train"], **_overrides(train_cfg)})
            if saved["sae"]["sha256"] != sae_sha and not retarget_sae:
                raise WeightsError(
                    f"{self.out} was trained against the SAE {saved['sae']['path']} (sha256 {saved['sae']['sha256']}), "
                    f"not {sae_path} (sha256 {sae_sha}). Resume with that SAE, or pass --retarget-sae to fine-tune "
                    "this LIN towards the new SAE's latents."
                )
        self.train_cfg, self.data_cfg = train_cfg, data_cfg
        self.shape_fn = shape_fn or partial(training_shape, train_cfg.shapes)
        if train_cfg.threads:
            torch.set_num_threads(train_cfg.threads)
        torch.manual_seed(train_cfg.seed)
        self.model = LIN(model_cfg)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)
        self.step = 0
        if existing:
            self.meta = load_checkpoint(self.out, self.model, self.optimizer)
            self.step = int(self.meta["step"])
            if self.meta["sae"]["sha256"] != sae_sha:
                self.meta.setdefault("sae_history", []).append({**self.meta["sae"], "until_step": self.step})
        self.meta["sae"] = {"path": str(sae_path), "sha256": sae_sha}
        from latentdreamer.models.weights_file import hardware_description

        self.meta.setdefault("runs", []).append(
            {
                "command": command or shlex.join(sys.argv),
                "start_step": self.step,
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "hardware": hardware_description(),
            }
        )
        self._eval_set: tuple[torch.Tensor, ...] | None = None

    def _lr(self, step: int) -> float:
        warm = self.train_cfg.warmup_steps
        return self.train_cfg.lr * min(1.0, (step + 1) / warm) if warm else self.train_cfg.lr

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(network input (B, 6, 5, H, W), hull latent or None, target latent (B, 8, 8, 8, 8)) of one step.

        The hull is carved in the nominal prior cameras from the jittered views' masks, as
        the pipeline carves it from the priors' masks."""
        gen = step_generator(self.train_cfg.seed, step)
        sdf = stack_sdf(shape_batch(self.shape_fn, step, self.train_cfg.batch_size, self.sae.config.resolution))
        with torch.no_grad():
            target, _ = self.sae.encode(sdf)
        mask, normals, has_normals = training_views(sdf, self.data_cfg, gen)
        base = hull_latent(self.sae, mask) if self.model.config.residual == "hull" else None
        return LIN.prepare_views(mask, normals, has_normals), base, target

    def train_step(self, step: int) -> dict[str, float]:
        views, base, target = self.batch(step)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr(step)
        loss = latent_loss(self.model(views, base), target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.train_cfg.grad_clip)
        self.optimizer.step()
        return {"loss": loss.item(), "target_power": target.square().mean().item(), "grad_norm": gnorm.item()}

    def _eval_views(self) -> tuple[torch.Tensor, ...]:
        """Held-out shapes (seeds >= EVAL_SEED_BASE) in the exact prior cameras, built once."""
        if self._eval_set is None:
            from latentdreamer.render.cameras import prior_cameras
            from latentdreamer.render.sdf_views import sdf_views

            count, r = self.train_cfg.eval_shapes, self.sae.config.resolution
            sdf = stack_sdf([self.shape_fn(EVAL_SEED_BASE + i, r) for i in range(count)])
            cams = prior_cameras()
            cams = type(cams)(cams.view.repeat(count, 1, 1), cams.proj.repeat(count, 1, 1), cams.positions.repeat(count, 1))
            mask, normals = sdf_views(sdf, cams, self.model.config.image_size, self.data_cfg.supersample)
            with torch.no_grad():
                target, _ = self.sae.encode(sdf)
            hull = hull_latent(self.sae, mask)
            hull_iou = float(grid_iou(self.sae.decode_grid(hull), sdf).mean())
            self._eval_set = (sdf, mask, normals, target, hull, hull_iou)
        return self._eval_set

    @torch.no_grad()
    def quick_eval(self) -> dict[str, float]:
        """Latent MSE with normals and masks-only and the decoded IoU, with the zero latent's
        MSE and the visual hull's MSE and IoU as baselines."""
        sdf, mask, normals, target, hull, hull_iou = self._eval_views()
        self.model.eval()
        pred_n = self.model.predict(mask, normals, base=hull)
        pred_m = self.model.predict(mask, None, base=hull)
        self.model.train()
        decoded = self.sae.decode_grid(pred_n)
        return {
            "eval_mse": latent_loss(pred_n, target).item(),
            "eval_mse_masks_only": latent_loss(pred_m, target).item(),
            "eval_mse_zero": target.square().mean().item(),
            "eval_mse_hull": latent_loss(hull, target).item(),
            "eval_grid_iou": float(grid_iou(decoded, sdf).mean()),
            "eval_grid_iou_hull": hull_iou,
        }

    def save(self) -> None:
        meta = dict(self.meta)
        meta["model"] = self.model.config.to_dict()
        meta["data"] = asdict(self.data_cfg)
        meta["train"] = asdict(self.train_cfg)
        save_checkpoint(self.out, self.model, self.optimizer, self.step, meta)

    def train_until(self, total_steps: int, progress: bool = True) -> dict[str, float]:
        return train_until(self, total_steps, "lin", progress, lr=self._lr)


def _overrides(cfg: LINTrainConfig) -> dict[str, Any]:
    """On resume the saved train config wins except for settings that do not change the
    trajectory (logging, checkpoint cadence, threads, the step target)."""
    keep = ("steps", "checkpoint_every", "log_every", "eval_every", "eval_shapes", "threads")
    return {k: getattr(cfg, k) for k in keep}
