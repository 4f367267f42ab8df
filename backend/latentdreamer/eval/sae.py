"""SAE round-trip evaluation: SDF -> latent -> SDF -> FlexiCubes mesh, scored against the truth.

Two sets: fresh random shapes from seeds the trainer never draws (>= EVAL_SEED_BASE), with
the same object generated at 128^3 as ground truth, and the real evaluation meshes. The random
shapes are the blocks the shipped SAE was trained on ("blocks"), or the thin-part objects of
geometry/thin_shapes.py ("thin": plates, legs, rims, shells), whose truth is their exact
distance meshed at 192^3 (a voxel of 5.8 mm, no more than their thinnest wall). Every
object also gets the score of its input grid meshed directly ("grid bound"): what the
resolution alone allows, so a reader can tell the network's loss from the grid's. Scores
follow docs/design.md §7 via `latentdreamer.metrics.geometry`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentdreamer.eval.entries import attempt, eval_entries, means_by_kind, part_lines
from latentdreamer.eval.report_files import write_report
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.io.eval_meshes import EvalEntry
from latentdreamer.models.sae import SAE
from latentdreamer.models.trained_sae import encode_sdf, mesh_resolution, mesh_sdf, sdf_to_mesh
from latentdreamer.train.sae import EVAL_SEED_BASE

GT_RESOLUTION = 128
THIN_GT_RESOLUTION = 192
SHAPE_SETS: dict[str, str] = {"blocks": "random", "thin": "random_thin"}
"""Random shape set -> its key in the report."""
METRICS = ("volume_iou", "chamfer", "f_score_005", "f_score_002")


@dataclass
class RoundTrip:
    name: str
    truth: Mesh
    recon: Mesh
    scores: dict[str, float]
    bound: dict[str, float]


def _score(pred: Mesh, truth: Mesh, points: int) -> dict[str, float]:
    from latentdreamer.metrics.geometry import evaluate_geometry

    if len(pred.faces) == 0:
        return {"volume_iou": 0.0, "chamfer": float("nan"), "f_score_005": 0.0, "f_score_002": 0.0}
    return evaluate_geometry(pred, truth, count=points).as_dict()


def round_trip(model: SAE, name: str, sdf: np.ndarray, truth: Mesh, decode_resolution: int, points: int) -> RoundTrip:
    with torch.no_grad():
        rec_sdf = model.decode_grid(encode_sdf(model, sdf), decode_resolution)[0]
    recon = sdf_to_mesh(rec_sdf)
    bound_mesh = sdf_to_mesh(torch.from_numpy(np.asarray(sdf, dtype=np.float32)))
    return RoundTrip(name, truth, recon, _score(recon, truth, points), _score(bound_mesh, truth, points))


def random_round_trips(
    model: SAE,
    count: int,
    decode_resolution: int,
    points: int,
    gt_resolution: int = GT_RESOLUTION,
    first: int = 0,
    shape_set: str = "blocks",
):
    from latentdreamer.geometry.random_shapes import random_sdf
    from latentdreamer.geometry.thin_shapes import sdf_grid, thin_parts

    for i in range(first, first + count):
        seed = EVAL_SEED_BASE + i
        if shape_set == "thin":
            parts = thin_parts(seed)
            truth_sdf, sdf = sdf_grid(parts, gt_resolution), sdf_grid(parts, model.config.resolution)
        else:
            truth_sdf, sdf = random_sdf(seed, gt_resolution), random_sdf(seed, model.config.resolution)
        truth = sdf_to_mesh(torch.from_numpy(truth_sdf))
        yield round_trip(model, f"seed{seed}", sdf, truth, decode_resolution, points)


def mesh_round_trips(
    model: SAE, entries: list[EvalEntry], decode_resolution: int, points: int, failures: list[dict[str, Any]]
) -> Iterator[RoundTrip]:
    """Round trips of the folder's entries; one that cannot be loaded or meshed is a row in
    `failures` and the others go on."""
    from latentdreamer.geometry.normalise import fit_in_sphere
    from latentdreamer.io.eval_meshes import load_eval_mesh

    def one(entry: EvalEntry) -> RoundTrip:
        truth = fit_in_sphere(load_eval_mesh(entry))
        sdf = mesh_sdf(truth, model.config.resolution)
        return round_trip(model, entry.name, sdf, truth, decode_resolution, points)

    for entry in entries:
        result = attempt(entry, one, failures)
        if result is not None:
            yield result


def summarise(
    results: list[RoundTrip], failures: list[dict[str, Any]] | None = None, entries: list[EvalEntry] | None = None
) -> dict[str, Any]:
    """Per-object rows and their means; with `entries`, means per kind where sidecars say one."""
    per_object = [{"name": r.name, **r.scores, **{f"bound_{k}": v for k, v in r.bound.items()}} for r in results]
    keys = [k for k in per_object[0] if k != "name"] if per_object else []
    mean = {k: float(np.nanmean([o[k] for o in per_object])) for k in keys}
    out: dict[str, Any] = {"count": len(results), "mean": mean, "objects": per_object}
    if entries is not None:
        out["failed"] = failures or []
        out["by_kind"] = means_by_kind(per_object, {e.name: e.kind for e in entries}, keys)
    return out


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from several runs of `evaluate` on disjoint parts (e.g. seed ranges run in
    parallel): per-object and failure rows concatenated, means recomputed."""
    merged = {k: v for k, v in reports[0].items() if k not in (*SHAPE_SETS.values(), "meshes", "random_seeds", "seconds")}
    merged["parts"] = [{k: r.get(k) for k in ("random_seeds", "seconds")} for r in reports]
    for key in (*SHAPE_SETS.values(), "meshes"):
        objects = [o for r in reports if r.get(key) for o in r[key]["objects"]]
        failed = [f for r in reports if r.get(key) for f in r[key].get("failed", [])]
        if objects or failed:
            mean = {k: float(np.nanmean([o[k] for o in objects])) for k in objects[0] if k != "name"} if objects else {}
            merged[key] = {"count": len(objects), "mean": mean, "objects": objects, "failed": failed}
    return merged


def contact_sheet(results: list[RoundTrip], path: Path, tile: int = 160, limit: int = 12) -> Path | None:
    """Pairs of renders (truth | reconstruction), shaded by normals, one pair per cell."""
    from latentdreamer.io.images import rendered_to_image, write_png
    from latentdreamer.render.cameras import orbit_cameras
    from latentdreamer.render.views import render_views

    shown = [r for r in results[:limit] if len(r.recon.faces) and len(r.truth.faces)]
    if not shown:
        return None
    cam = orbit_cameras([30.0], [20.0])
    cols = 4  # two pairs per row
    rows = (len(shown) + 1) // 2
    sheet = np.ones((rows * tile, cols * tile, 3), np.float32)
    for idx, r in enumerate(shown):
        for j, mesh in enumerate((r.truth, r.recon)):
            views = render_views(torch.from_numpy(mesh.vertices), torch.from_numpy(mesh.faces), cam, tile)
            img = rendered_to_image(views.normals)[0]
            y, x = (idx // 2) * tile, ((idx % 2) * 2 + j) * tile
            sheet[y : y + tile, x : x + tile] = img
    return write_png(path, sheet)


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# SAE round-trip evaluation",
        "",
        f"Weights: `{report['weights']}` (sha256 {report['sha256'][:16]}...), decoded at {report['decode_resolution']}^3, "
        f"FlexiCubes with default weights. Protocol: docs/design.md §7 (unit-box normalisation, "
        f"{report['surface_points']} surface points, F-score at 0.05 / 0.02, volume IoU on 64^3 by winding number). "
        "'bound' = the input grid meshed directly (what the resolution alone allows).",
        "",
    ]
    columns = [
        ("volume_iou", "IoU", ".3f"),
        ("chamfer", "Chamfer", ".4f"),
        ("f_score_005", "F@0.05", ".3f"),
        ("f_score_002", "F@0.02", ".3f"),
        ("bound_volume_iou", "bound IoU", ".3f"),
    ]
    kinds = [(k, k.replace("_", " "), ".3f") for k in METRICS]
    for key, title in (
        ("random", f"Random shapes (unseen seeds, truth at {report['random_truth_resolution']}^3)"),
        ("random_thin", f"Random thin-part shapes (unseen seeds, exact truth meshed at {report['random_truth_resolution']}^3)"),
        ("meshes", "Evaluation meshes"),
    ):
        lines += part_lines(title, report.get(key), columns, kinds, per_object=key == "meshes")
    return "\n".join(lines)


def evaluate(
    model: SAE,
    weights: str,
    sha256: str,
    out: Path,
    shapes: int,
    meshes: Path | None,
    use_meshes: bool,
    decode_resolution: int | None = None,
    points: int = 100_000,
    progress: bool = True,
    gt_resolution: int | None = None,
    first_shape: int = 0,
    up: str | None = None,
    kind: str | None = None,
    shape_set: str = "blocks",
) -> dict[str, Any]:
    """Round trips of `shapes` random shapes of `shape_set` (SHAPE_SETS) and (with `use_meshes`)
    of every entry of the `meshes` folder (`up`, `kind`: defaults for entries nothing else
    orients or labels); writes sae_eval.{json,md} and contact sheets under `out`."""
    from tqdm import tqdm

    if shape_set not in SHAPE_SETS:
        raise ValueError(f"shape_set must be one of {sorted(SHAPE_SETS)}, got {shape_set!r}")
    gt_resolution = gt_resolution or (THIN_GT_RESOLUTION if shape_set == "thin" else GT_RESOLUTION)
    key = SHAPE_SETS[shape_set]

    decode_resolution = decode_resolution or mesh_resolution(model)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    report: dict[str, Any] = {
        "weights": weights,
        "sha256": sha256,
        "decode_resolution": decode_resolution,
        "surface_points": points,
        "random_truth_resolution": gt_resolution,
        "random_set": shape_set,
        "random_seeds": [EVAL_SEED_BASE + first_shape, EVAL_SEED_BASE + first_shape + shapes],
        "protocol": "docs/design.md §7 via latentdreamer.metrics.geometry",
    }
    randoms = list(
        tqdm(
            random_round_trips(model, shapes, decode_resolution, points, gt_resolution, first_shape, shape_set),
            total=shapes,
            desc=key,
            disable=not progress,
        )
    )
    report[key] = summarise(randoms)
    contact_sheet(randoms, out / f"sae_{key}.png")
    entries = eval_entries(meshes, report, up, kind) if use_meshes else None
    if entries is not None:
        failures: list[dict[str, Any]] = []
        reals = list(
            tqdm(mesh_round_trips(model, entries, decode_resolution, points, failures), desc="meshes", disable=not progress)
        )
        report["meshes"] = summarise(reals, failures, entries)
        contact_sheet(reals, out / "sae_meshes.png")
    report["seconds"] = time.perf_counter() - t0
    write_report(out, "sae_eval", report, markdown)
    return report
