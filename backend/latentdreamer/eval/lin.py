"""LIN evaluation: how good is the latent it predicts, before any optimisation step?

For each object: six views in the exact prior cameras -> LIN -> latent, scored two ways:
the L2 (mean square per latent element) against the SAE encoder's latent of the true SDF,
and the volume IoU of the decoded prediction against the true shape (insides of the two
SDF grids at the SAE's resolution). Each with normals and with masks only. Baselines in the
same table: the zero latent (the prior mean, the uninformed start), the SAE encoding of the
six masks' visual hull (the pipeline's start when there is no LIN: LIN has to beat it to be
worth shipping), and the SAE round trip (the IoU ceiling: LIN can at best reproduce the
encoder's latent).

Two sets: fresh random shapes (seeds >= EVAL_SEED_BASE, never trained on), traced like the
training views but without degradations; and the evaluation meshes, rasterised as meshes
(render/views.py), so they also measure the step from the training renderer to another.
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
from latentdreamer.io.eval_meshes import EvalEntry
from latentdreamer.models.lin import LIN, hull_latent, latent_loss
from latentdreamer.models.sae import SAE
from latentdreamer.train.sae import EVAL_SEED_BASE, grid_iou

SHEET_ROWS = 8
"""Random objects shown in the contact sheet (every evaluation mesh is shown)."""
METRICS = ("mse", "mse_masks_only", "mse_zero", "mse_hull", "iou", "iou_masks_only", "iou_zero", "iou_hull", "iou_sae_bound")


@dataclass
class Views:
    name: str
    sdf: torch.Tensor
    """(n, n, n) true SDF at the SAE's resolution."""
    mask: torch.Tensor
    """(1, 6, H, W, 1)"""
    normals: torch.Tensor
    """(1, 6, H, W, 3) encoded"""


@torch.no_grad()
def score(lin: LIN, sae: SAE, views: Views, zero_sdf: torch.Tensor, shown: list[torch.Tensor] | None = None) -> dict[str, float]:
    """Scores of one object; `shown`, if given, receives its (truth, hull, LIN, LIN masks only) grids."""
    sdf = views.sdf.unsqueeze(0)
    target, _ = sae.encode(sdf)
    hull = hull_latent(sae, views.mask)
    pred = lin.predict(views.mask, views.normals, base=hull)
    pred_m = lin.predict(views.mask, None, base=hull)
    decoded = sae.decode_grid(torch.cat([pred, pred_m, hull, target]))
    ious = grid_iou(decoded, sdf.expand(4, -1, -1, -1))
    if shown is not None:
        shown.append(torch.stack([views.sdf, decoded[2], decoded[0], decoded[1]]))
    return {
        "mse": latent_loss(pred, target).item(),
        "mse_masks_only": latent_loss(pred_m, target).item(),
        "mse_zero": target.square().mean().item(),
        "mse_hull": latent_loss(hull, target).item(),
        "iou": float(ious[0]),
        "iou_masks_only": float(ious[1]),
        "iou_zero": float(grid_iou(zero_sdf, sdf)[0]),
        "iou_hull": float(ious[2]),
        "iou_sae_bound": float(ious[3]),
    }


def random_views(count: int, resolution: int, image_size: int, first_seed: int = EVAL_SEED_BASE):
    from latentdreamer.geometry.random_shapes import random_sdf
    from latentdreamer.render.cameras import prior_cameras
    from latentdreamer.render.sdf_views import sdf_views

    cams = prior_cameras()
    for i in range(count):
        sdf = torch.from_numpy(random_sdf(first_seed + i, resolution))
        mask, normals = sdf_views(sdf[None], cams, image_size)
        yield Views(f"seed{first_seed + i}", sdf, mask, normals)


def mesh_views(entries: list[EvalEntry], resolution: int, image_size: int, failures: list[dict[str, Any]]) -> Iterator[Views]:
    """Views of the folder's entries; one that cannot be loaded or rendered is a row in
    `failures` and the others go on."""
    from latentdreamer.geometry.normalise import fit_in_sphere
    from latentdreamer.io.eval_meshes import load_eval_mesh
    from latentdreamer.models.trained_sae import mesh_sdf
    from latentdreamer.render.cameras import prior_cameras
    from latentdreamer.render.views import render_views

    cams = prior_cameras()

    def one(entry: EvalEntry) -> Views:
        mesh = fit_in_sphere(load_eval_mesh(entry))
        v = torch.from_numpy(np.asarray(mesh.vertices, dtype=np.float32))
        f = torch.from_numpy(np.asarray(mesh.faces, dtype=np.int64))
        with torch.no_grad():
            r = render_views(v, f, cams, image_size)
        sdf = torch.from_numpy(np.asarray(mesh_sdf(mesh, resolution), dtype=np.float32))
        return Views(entry.name, sdf, r.mask.unsqueeze(0), r.normals.unsqueeze(0))

    for entry in entries:
        views = attempt(entry, one, failures)
        if views is not None:
            yield views


SHEET_COLUMNS = ("truth", "hull", "LIN", "LIN masks only")


def contact_sheet(shown: list[torch.Tensor], path: Path, tile: int = 96) -> Path | None:
    """One row per object: truth | hull start | LIN | LIN from masks only, traced normals in
    a three-quarter view (rows of the render flipped to put up at the top of the PNG)."""
    from latentdreamer.io.images import rendered_to_image, write_png
    from latentdreamer.render.cameras import orbit_cameras
    from latentdreamer.render.sdf_views import sdf_views

    if not shown:
        return None
    grids = torch.cat(shown)  # (4 * objects, n, n, n)
    cams = orbit_cameras([30.0] * len(grids), [20.0] * len(grids))
    _, normals = sdf_views(grids, cams, tile)
    images = rendered_to_image(normals[:, 0])  # (4 * objects, tile, tile, 3)
    rows = [np.concatenate(list(images[i : i + len(SHEET_COLUMNS)]), axis=1) for i in range(0, len(images), len(SHEET_COLUMNS))]
    return write_png(path, np.concatenate(rows, axis=0))


def summarise(
    objects: list[dict[str, Any]], failures: list[dict[str, Any]] | None = None, entries: list[EvalEntry] | None = None
) -> dict[str, Any]:
    """Per-object rows and their means; with `entries`, means per kind where sidecars say one."""
    mean = {k: float(np.mean([o[k] for o in objects])) for k in METRICS} if objects else {}
    out: dict[str, Any] = {"count": len(objects), "mean": mean, "objects": objects}
    if entries is not None:
        out["failed"] = failures or []
        out["by_kind"] = means_by_kind(objects, {e.name: e.kind for e in entries}, METRICS)
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# LIN evaluation (zero optimisation steps)",
        "",
        f"LIN `{report['lin']}` (sha256 {report['lin_sha256'][:16]}...) with SAE sha256 {report['sae_sha256'][:16]}...; "
        f"views {report['image_size']} px in the six prior cameras. L2 = mean square per latent element against the SAE "
        f"encoder's latent; IoU = volume IoU of the insides of the decoded and the true SDF grids at {report['resolution']}^3. "
        "'zero' = the prior-mean latent; 'hull' = the SAE encoding of the masks' visual hull (the pipeline's start without LIN); "
        "'SAE bound' = the encoder's own latent decoded (the best LIN can do). "
        f"Contact sheets (lin_random.png, lin_meshes.png), one row per object: {' | '.join(SHEET_COLUMNS)}.",
        "",
    ]
    headers = ("L2", "L2 masks only", "L2 zero", "L2 hull", "IoU", "IoU masks only", "IoU zero", "IoU hull", "IoU SAE bound")
    columns = [(k, h, ".3f") for k, h in zip(METRICS, headers, strict=True)]
    kinds = [(k, k.replace("_", " "), ".3f") for k in METRICS]
    for key, title in (
        ("random", "Random shapes (unseen seeds, traced views)"),
        ("meshes", "Evaluation meshes (rasterised views)"),
    ):
        lines += part_lines(title, report.get(key), columns, kinds, per_object=key == "meshes")
    return "\n".join(lines)


def evaluate(
    lin: LIN,
    sae: SAE,
    lin_source: str,
    lin_sha256: str,
    sae_sha256: str,
    out: Path,
    shapes: int,
    meshes: Path | None,
    use_meshes: bool,
    progress: bool = True,
    up: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """LIN scores on `shapes` unseen random shapes and (with `use_meshes`) on every entry of
    the `meshes` folder (`up`, `kind`: defaults for entries nothing else orients or labels)."""
    from tqdm import tqdm

    lin.eval()
    sae.eval()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    r, size = sae.config.resolution, lin.config.image_size
    with torch.no_grad():
        zero_sdf = sae.decode_grid(torch.zeros(1, *sae.config.latent_shape))
    report: dict[str, Any] = {
        "lin": lin_source,
        "lin_sha256": lin_sha256,
        "sae_sha256": sae_sha256,
        "resolution": r,
        "image_size": size,
    }
    shown: list[torch.Tensor] = []
    objects = [
        {"name": v.name, **score(lin, sae, v, zero_sdf, shown if i < SHEET_ROWS else None)}
        for i, v in enumerate(tqdm(random_views(shapes, r, size), total=shapes, desc="random", disable=not progress))
    ]
    report["random"] = summarise(objects)
    contact_sheet(shown, out / "lin_random.png")
    entries = eval_entries(meshes, report, up, kind) if use_meshes else None
    if entries is not None:
        shown, failures = [], []
        objects = [
            {"name": v.name, **score(lin, sae, v, zero_sdf, shown)}
            for v in tqdm(mesh_views(entries, r, size, failures), desc="meshes", disable=not progress)
        ]
        report["meshes"] = summarise(objects, failures, entries)
        contact_sheet(shown, out / "lin_meshes.png")
    report["seconds"] = time.perf_counter() - t0
    write_report(out, "lin_eval", report, markdown)
    return report
