"""Degradation curves: reconstruction quality as the oracle views get worse, level 0 to 3.

    .venv-backend/bin/python benchmarks/bench_degrade.py [--preset draft] [--levels 0 1 2 3] \
        [--meshes DIR] [--only jitter,colour,...] [--ablations N] [--seeds 0 1] [--out out/degrade]

Each level is one `eval generate --degrade LEVEL` run (eval/degrade.py; the same code, the
same report in `<out>/level_<k>/`), on every entry of the folder (default: the development
meshes), shipped SAE + LIN, with `eval generate`'s ablations on the first N entries
(`--ablations`, default none; eval/generation.py lists them). Printed: per level the mean volume IoU, Chamfer and
F@0.02 (docs/design.md §7) with their ratio to level 0, the views' scale measured from their
silhouettes, and the mean seconds per object; with ablations, per level each variant's mean
volume IoU, Chamfer, F@0.02 (geometry ablations) or novel-view PSNR (the texture one); written: `<out>/degrade_curve.json` and
`<out>/degrade_curve.png` (the three ratios against the level). A level whose report already
holds the entries asked for (all, or the first `--limit`) is read back instead of run again
(`--rerun` to run it anyway), so a long curve can be built over several sittings.

One object's score moves by up to 0.05 volume IoU at level 2 when nothing but the order of a
float sum changes (docs/evaluation.md, "Imperfect views"): the optimisation is chaotic. With
several `--seeds` (each draws other perturbations, `<out>/seed_<s>/level_<k>/`; level 0,
whose views no seed changes, runs once) the curve is the mean over every object and seed,
and `sd` is the spread of the per-seed means, which is what a difference between two runs
has to beat.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

METRICS = (("volume_iou", "vol. IoU"), ("chamfer", "Chamfer"), ("f_score_002", "F@0.02"))
COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44))


def run_level(args: argparse.Namespace, number: int, prior: Any, seed: int) -> dict[str, Any]:
    """One level's report for one seed, from disk when a finished one is there."""
    from latentdreamer.api import GenerateSettings
    from latentdreamer.eval.degrade import level
    from latentdreamer.eval.generation import evaluate_generation

    out = (args.out if len(args.seeds) == 1 else args.out / f"seed_{seed}") / f"level_{number}"
    ablations = args.ablations if seed == args.seeds[0] else 0  # the ablations on the first seed
    done = out / "generation_eval.json"
    if done.is_file() and not args.rerun:
        report = json.loads(done.read_text())
        wanted = report["objects_planned"][: args.limit] if args.limit else report["objects_planned"]
        scored = [o["name"] for o in report["objects"]] + [f["name"] for f in report["failed"]]
        ablated = max((len(a["objects"]) for a in report["ablations"].values()), default=0)
        if scored[: len(wanted)] == wanted and report["preset"] == args.preset and ablated >= ablations:
            return {**report, "objects": report["objects"][: len(wanted)]}
    only = parse_only(args.only)
    settings = GenerateSettings(preset=args.preset, device="cpu", seed=seed)
    return evaluate_generation(
        args.meshes,
        out,
        settings,
        prior,
        args.limit,
        ablations,
        args.view_size,
        args.points,
        degradation=level(number, only),
    )


def parse_only(only: str | None) -> set[str] | None:
    """`--only jitter,colour` -> the perturbation names; None for all."""
    return {n.strip() for n in only.split(",")} if only else None


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def curve_rows(reports: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per level: means over the objects scored under every seed, the spread of the seeds'
    means, ratios to the first level run, counts."""
    rows = []
    for number, seeded in sorted(reports.items()):
        objects = [o for report in seeded for o in report["objects"]]
        row = {
            "level": number,
            "active": seeded[0]["degradation"]["active"],
            "seeds": len(seeded),
            "objects": len(objects),
            "failed": sum(len(report["failed"]) for report in seeded),
            "view_scale": _mean([o["view_scale"] for o in objects if o.get("view_scale") is not None]),
            "seconds": _mean([o["timings"]["total"] for o in objects]),
        }
        for key, _ in METRICS:
            row[key] = _mean([o["geometry"][key] for o in objects])
            per_seed = [_mean([o["geometry"][key] for o in report["objects"]]) for report in seeded]
            row[f"{key}_sd"] = statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0
            row[f"{key}_ratio"] = row[key] / rows[0][key] if rows else 1.0
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = "| level | n | " + " | ".join(f"{label} (sd) | ratio" for _, label in METRICS) + " | view scale | s / object |"
    lines = [head, "|---" * (4 + 2 * len(METRICS)) + "|"]
    for r in rows:
        cells = " | ".join(f"{r[k]:.4f} ({r[k + '_sd']:.4f}) | {r[k + '_ratio']:.3f}" for k, _ in METRICS)
        n = f"{r['objects']}" + (f" ({r['seeds']} seeds)" if r["seeds"] > 1 else "")
        n += f" (+{r['failed']} failed)" if r["failed"] else ""
        lines.append(f"| {r['level']} | {n} | {cells} | {r['view_scale']:.3f} | {r['seconds']:.0f} |")
    return "\n".join(lines)


ABLATION_METRICS = ("volume_iou", "chamfer", "f_score_002", "novel_psnr")


def ablation_table(reports: dict[int, list[dict[str, Any]]]) -> str:
    """Per level and ablation, each variant's means over the ablation objects (first seed)."""
    lines = [
        "| level | ablation | variant | n | " + " | ".join(ABLATION_METRICS) + " |",
        "|---" * (4 + len(ABLATION_METRICS)) + "|",
    ]
    for number, seeded in sorted(reports.items()):
        for name, ablation in seeded[0]["ablations"].items():
            for variant, summary in ablation["summary"].items():
                cells = " | ".join(f"{summary[k]['mean']:.4f}" if k in summary else "" for k in ABLATION_METRICS)
                lines.append(f"| {number} | {name} | {variant} | {len(ablation['objects'])} | {cells} |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """The three ratios against the level, drawn with PIL (no plotting package needed)."""
    from PIL import Image, ImageDraw

    width, height, left, right, top, bottom = 640, 400, 60, 20, 40, 50
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    levels = [r["level"] for r in rows]
    ratios = [r[f"{k}_ratio"] for r in rows for k, _ in METRICS]
    lo, hi = min(0.5, min(ratios)), max(1.5, max(ratios))
    span = max(levels[-1] - levels[0], 1)

    def xy(level: float, value: float) -> tuple[float, float]:
        x = left + (level - levels[0]) / span * (width - left - right)
        return x, top + (hi - value) / (hi - lo) * (height - top - bottom)

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for k in range(6):
        value = lo + (hi - lo) * k / 5
        _, y = xy(levels[0], value)
        draw.line([left - 4, y, left, y], fill="black")
        draw.text((8, y - 6), f"{value:.2f}", fill="black")
    for number in levels:
        x, _ = xy(number, lo)
        draw.text((x - 3, height - bottom + 6), str(number), fill="black")
    draw.text((width / 2 - 70, height - 22), "degradation level", fill="black")
    draw.text((left, 10), title, fill="black")
    for (key, label), colour in zip(METRICS, COLOURS, strict=True):
        points = [xy(r["level"], r[f"{key}_ratio"]) for r in rows]
        draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.text((points[-1][0] - 110, points[-1][1] - 14), f"{label} / level {levels[0]}", fill=colour)
    image.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="draft")
    parser.add_argument("--levels", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--meshes", type=Path, default=None, help="folder of meshes (default: the development meshes)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N entries")
    parser.add_argument("--only", default=None, help="only these perturbations, comma-separated (default: all)")
    parser.add_argument("--view-size", type=int, default=256)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="perturbation seeds, each a full run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("out/degrade"))
    parser.add_argument("--rerun", action="store_true", help="run levels again even when their reports are complete")
    parser.add_argument("--ablations", type=int, default=0, help="run eval generate's ablations on the first N entries")
    args = parser.parse_args()

    import torch

    from latentdreamer.io.eval_meshes import default_eval_root
    from latentdreamer.locations import Locations
    from latentdreamer.pipeline.shape_prior import load_shape_prior

    torch.set_num_threads(args.threads)
    args.meshes = args.meshes or default_eval_root()
    prior = load_shape_prior(torch.device("cpu"), Locations.from_environment())
    started = time.perf_counter()
    reports = {}
    from latentdreamer.eval.degrade import level

    for number in args.levels:
        seeds = level(number, parse_only(args.only)).seeds_to_run(args.seeds)
        reports[number] = [run_level(args, number, prior, seed) for seed in seeds]
        print(f"level {number} done ({(time.perf_counter() - started) / 60:.1f} min so far)", flush=True)
    rows = curve_rows(reports)
    print(f"preset {args.preset}, {args.meshes}, perturbations: {args.only or 'all'}; ratios to level {min(reports)}")
    print(table(rows))
    if args.ablations:
        print(ablation_table(reports))
    args.out.mkdir(parents=True, exist_ok=True)
    parameters = {n: r[0]["degradation"] for n, r in reports.items()}
    curve = {"preset": args.preset, "meshes": str(args.meshes), "seeds": args.seeds, "rows": rows, "parameters": parameters}
    (args.out / "degrade_curve.json").write_text(json.dumps(curve, indent=1) + "\n")
    plot(rows, args.out / "degrade_curve.png", f"preset {args.preset}, {rows[0]['objects']} meshes, oracle views degraded")
    print(f"wrote {args.out / 'degrade_curve.json'} and .png")


if __name__ == "__main__":
    main()
