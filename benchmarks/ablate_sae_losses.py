"""What each SAE loss term buys, and what it costs per step on this CPU.

Every variant continues the same checkpoint for the same steps on the same shapes and
points (the stream is a function of the step), differing only in loss weights; the baseline
(reconstruction + KL) is one of the variants, so all figures come from this one process.
Quality is the grid-level round-trip IoU on unseen seeds (>= 10**9) and the mean |SDF| error
within one voxel of the surface.

    .venv-backend/bin/python benchmarks/ablate_sae_losses.py --from runs/sae/sae64 --steps 60
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from latentdreamer.geometry.grid import voxel_size
from latentdreamer.models.checkpoint import META, TENSORS
from latentdreamer.models.sae import SAEConfig
from latentdreamer.train.sae import EVAL_SEED_BASE, SAETrainConfig, SAETrainer, grid_iou, stack_sdf

VARIANTS: dict[str, dict[str, float]] = {
    "recon + KL (baseline)": {},
    "+ FlexiCubes reg": {"flexi_reg_weight": 0.01},
    "+ mask + normal render": {"mask_weight": 2.0, "normal_weight": 1.0},
    "+ all": {"mask_weight": 2.0, "normal_weight": 1.0, "flexi_reg_weight": 0.01},
}


@torch.no_grad()
def score(trainer: SAETrainer, shapes: int) -> dict[str, float]:
    model = trainer.model.eval()
    r = model.config.resolution
    ious, errs = [], []
    for i in range(0, shapes, 8):
        sdf = stack_sdf([trainer.shape_fn(EVAL_SEED_BASE + j, r) for j in range(i, min(i + 8, shapes))])
        rec = model.decode_grid(model.encode(sdf)[0], r)
        ious.append(grid_iou(rec, sdf))
        band = sdf.abs() < voxel_size(r)
        errs.append((rec - sdf).abs()[band] / voxel_size(r))
    model.train()
    return {"iou": float(torch.cat(ious).mean()), "surface_err_voxels": float(torch.cat(errs).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="source", required=True, help="training run directory to fork")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--shapes", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("runs/sae/ablation.json"))
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # Freeze the source first: a live run overwrites its checkpoint while variants train.
        frozen = Path(tmp) / "source"
        frozen.mkdir()
        for f in (TENSORS, META):
            shutil.copy(Path(args.source) / f, frozen / f)
        for name, weights in VARIANTS.items():
            work = Path(tmp) / str(len(rows))
            shutil.copytree(frozen, work)
            saved = json.loads((work / META).read_text())
            model_cfg = SAEConfig.from_dict(saved["model"])
            trainer = SAETrainer(model_cfg, SAETrainConfig(), work, resume=True, command="ablation")
            trainer.train_cfg = replace(trainer.train_cfg, **weights)
            start = trainer.step
            before = score(trainer, args.shapes) if not rows else rows[0]["before"]
            times = []
            for s in range(start, start + args.steps):
                t0 = time.perf_counter()
                trainer.train_step(s)
                times.append(time.perf_counter() - t0)
            trainer.step = start + args.steps
            rows.append(
                {
                    "variant": name,
                    "weights": weights,
                    "from_step": start,
                    "steps": args.steps,
                    "before": before,
                    "after": score(trainer, args.shapes),
                    "s_per_step": statistics.median(times),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    base = rows[0]
    print(
        f"\nForked at step {base['from_step']}, +{args.steps} steps each, {args.shapes} unseen shapes; "
        f"before: IoU {base['before']['iou']:.4f}, surface error {base['before']['surface_err_voxels']:.3f} voxels\n"
    )
    print("| variant | IoU after | surface error (voxels) | s/step | cost vs baseline |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['after']['iou']:.4f} | {r['after']['surface_err_voxels']:.3f} | "
            f"{r['s_per_step']:.2f} | {r['s_per_step'] / base['s_per_step']:.2f}x |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
