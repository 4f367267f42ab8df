"""32^3 vs 64^3 SAE: round-trip quality against training CPU time, in one process.

Both train from scratch on the same shape stream (seeds by step) with the shipped config's
architecture and settings, only `resolution` differing, for the same number of steps; then
both are scored by `latentdreamer.eval.sae` (mesh IoU / Chamfer / F-score against 128^3
truth for random shapes, and against the real evaluation meshes when present). Reports CPU
seconds of training, so quality per CPU-hour can be read off.

    .venv-backend/bin/python benchmarks/compare_sae_resolution.py --steps 150
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from latentdreamer.eval.sae import evaluate
from latentdreamer.train.sae import SAETrainer, load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=Path("configs/sae/sae64.json"))
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--shapes", type=int, default=16)
    parser.add_argument("--points", type=int, default=20000)
    parser.add_argument("--out", type=Path, default=Path("runs/sae/resolution.json"))
    args = parser.parse_args()
    model_cfg, train_cfg = load_config(args.config)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for res in (32, 64):
            trainer = SAETrainer(replace(model_cfg, resolution=res), replace(train_cfg, eval_every=0), Path(tmp) / str(res))
            cpu0, wall0 = time.process_time(), time.perf_counter()
            trainer.train_until(args.steps, progress=False)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            report = evaluate(
                trainer.model.eval(),
                f"scratch-{res}",
                "-",
                Path(tmp) / f"eval{res}",
                args.shapes,
                None,
                True,
                points=args.points,
                progress=False,
            )
            row = {
                "resolution": res,
                "steps": args.steps,
                "train_cpu_s": cpu,
                "train_wall_s": wall,
                "random": report["random"]["mean"],
                "meshes": report.get("meshes", {}).get("mean"),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{args.steps} steps each from scratch, batch {train_cfg.batch_size}; IoU/Chamfer per docs/design.md §7\n")
    print("| grid | train CPU s | random IoU | random Chamfer | random bound IoU | meshes IoU | meshes bound IoU |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        m = r["meshes"] or {}
        print(
            f"| {r['resolution']}^3 | {r['train_cpu_s']:.0f} | {r['random']['volume_iou']:.3f} | {r['random']['chamfer']:.4f} | "
            f"{r['random']['bound_volume_iou']:.3f} | {m.get('volume_iou', float('nan')):.3f} | {m.get('bound_volume_iou', float('nan')):.3f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
