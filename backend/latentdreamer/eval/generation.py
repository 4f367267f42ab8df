"""`eval generate`: the oracle path on a folder of meshes, scored by docs/design.md §7, plus ablations.

Per object: load the mesh with its texture (else its colours), fit it into the radius-0.5
sphere, render the six prior views (RGB, alpha, normals), run the pipeline, and score the
result against the fitted mesh: Chamfer, volume IoU, F-score@0.05/0.02 (metrics/geometry.py's
protocol: both normalised to a unit bounding box, 100k surface points, 64^3 winding-number
IoU), and PSNR/SSIM (metrics/image.py's protocol) in the six prior views and in six novel views. Then, on the first
`ablation_objects` objects, the ablations of the design choices argued for views that
disagree (with `degradation`, measured on such views):

* initialisation: the informed start (LIN; without LIN weights, the SAE encoding of the
  visual hull; without an SAE, the visual hull) against the uninformed one (zero latent;
  without an SAE, a sphere): coarse steps to reach a common loss, final loss and its spread;
* refinement that keeps training the SDF (the default) against refinement with it frozen
  (the paper's choice);
* per-view camera corrections (optimise/view_corrections.py) against the exact prior cameras;
* the confidence-weighted normal loss (optimise/losses.py: per-view and per-pixel) against
  the plain one that weighs every view and pixel alike;
* the view-aware texture weight against a plain mean of the views that see a point, scored
  in the novel views.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from latentdreamer.api import GenerateSettings, ViewSet
from latentdreamer.eval.contact_sheet import comparison_grids
from latentdreamer.eval.degrade import Degradation, object_seed, render_degraded
from latentdreamer.eval.entries import attempt, failure_lines, kind_lines, means, means_by_kind
from latentdreamer.eval.report_files import write_report
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.io.eval_meshes import EvalEntry, find_eval_meshes
from latentdreamer.io.images import write_png
from latentdreamer.metrics.geometry import SURFACE_POINTS, evaluate_geometry
from latentdreamer.metrics.image import psnr, ssim
from latentdreamer.optimise.losses import PLAIN_LOSSES
from latentdreamer.optimise.presets import get_preset
from latentdreamer.pipeline.generate import PipelineOptions, generate_from_views
from latentdreamer.pipeline.oracle_views import load_oracle_mesh, oracle_views, render_mesh_views
from latentdreamer.pipeline.shape_prior import ShapePrior
from latentdreamer.render.cameras import Cameras, orbit_cameras, prior_cameras
from latentdreamer.render.silhouette_scale import estimate_view_scale

NOVEL_AZIMUTHS = (0.0, 60.0, 120.0, 180.0, 240.0, 300.0)
NOVEL_ELEVATIONS = (0.0, 30.0, 0.0, 30.0, 0.0, -20.0)
"""Six views between and above/below the prior's (azimuth 0 is the input view)."""


def novel_cameras() -> Cameras:
    return orbit_cameras(NOVEL_AZIMUTHS, NOVEL_ELEVATIONS)


def image_scores(truth: Mesh | ViewSet, pred: Mesh, cameras: Cameras, size: int) -> dict[str, float]:
    ref = truth if isinstance(truth, ViewSet) else render_mesh_views(truth, cameras, size)
    got = render_mesh_views(pred, cameras, size)
    return {"psnr": float(np.mean(psnr(got.rgb, ref.rgb))), "ssim": float(np.mean(ssim(got.rgb, ref.rgb)))}


def is_watertight(mesh: Mesh) -> bool:
    return bool(trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).is_watertight)


@dataclass
class ObjectScores:
    name: str
    geometry: dict[str, float]
    prior_views: dict[str, float]
    novel_views: dict[str, float]
    timings: dict[str, float]
    stats: dict[str, Any]
    watertight: bool
    kind: str | None = None
    view_scale: float | None = None
    """The object's scale in the views the pipeline got, from their silhouettes (1: as assumed)."""


@dataclass
class Ablation:
    name: str
    variants: tuple[str, ...]
    per_object: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Ablations:
    """The design choices each ablation object is run without: the start (paper Table 4),
    the frozen SDF in refinement, the camera corrections, the losses' confidence weights, the
    view-aware texture weight."""

    init: Ablation
    freeze: Ablation = field(default_factory=lambda: Ablation("refinement", ("SDF keeps training", "frozen SDF")))
    cameras: Ablation = field(default_factory=lambda: Ablation("camera corrections", ("corrected", "exact cameras")))
    confidence: Ablation = field(default_factory=lambda: Ablation("loss confidence", ("confidence-weighted", "plain")))
    texture: Ablation = field(default_factory=lambda: Ablation("view-aware texture", ("view-aware", "plain")))

    def all(self) -> tuple[Ablation, ...]:
        return (self.init, self.freeze, self.cameras, self.confidence, self.texture)


def _steps_to_reach(losses: list[float], level: float) -> int:
    for k, value in enumerate(losses):
        if value <= level:
            return k + 1
    return len(losses)


def _mean_std(values: list[float]) -> dict[str, float]:
    values = [v for v in values if v == v]
    if not values:
        return {"mean": float("nan"), "std": float("nan")}
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0}


INIT_OPTIONS = {"hull": "hull", "zero": "zero", "sphere": "sphere"}
"""The starts the initialisation ablation runs besides the main run's own (label -> init option)."""


def _init_variants(prior: ShapePrior) -> tuple[str, ...]:
    """Labels of the starts compared: the main run's first, the uninformed one last. With a
    LIN the main run starts from it, and the SAE encoding of the visual hull is a row of its
    own: the paper's ablation is LIN against no LIN, and the hull is the other informed start."""
    if prior.sae is None:
        return "hull", "sphere"
    if prior.lin is None:
        return "auto (hull)", "zero"
    return "auto (LIN)", "hull", "zero"


class GenerationEvaluator:
    def __init__(self, settings: GenerateSettings, prior: ShapePrior, view_size: int = 256, points: int = SURFACE_POINTS) -> None:
        self.settings = settings
        self.prior = prior
        self.view_size = view_size
        self.points = points

    def run(self, truth: Mesh, views: ViewSet, options: PipelineOptions, texture: bool = True):
        settings = GenerateSettings(self.settings.preset, self.settings.device, self.settings.seed, texture)
        return generate_from_views(views, settings, options=options, prior=self.prior)

    def score(self, name: str, truth: Mesh, views: ViewSet, result, kind: str | None = None) -> ObjectScores:
        geometry = evaluate_geometry(result.mesh, truth, count=self.points).as_dict()
        return ObjectScores(
            kind=kind,
            name=name,
            geometry=geometry,
            prior_views=image_scores(views, result.mesh, prior_cameras(), self.view_size),
            novel_views=image_scores(truth, result.mesh, novel_cameras(), self.view_size),
            timings=dict(result.timings),
            stats={k: v for k, v in result.stats.items() if isinstance(v, (int, float, str))},
            watertight=is_watertight(result.mesh),
        )

    def ablate(self, name: str, truth: Mesh, views: ViewSet, main: tuple[dict, Any, dict], ablations: Ablations) -> None:
        """`main`: the main run's (loss history, result, geometry scores), reused as one variant."""
        init, freeze = ablations.init, ablations.freeze
        main_history, main_result, main_geometry = main
        runs = [(init.variants[0], main_history, main_geometry, main_result)]
        for variant in init.variants[1:]:
            history: dict[str, list[float]] = {}
            other = self.run(truth, views, PipelineOptions(init=INIT_OPTIONS[variant], history=history), texture=False)
            runs.append((variant, history, evaluate_geometry(other.mesh, truth, count=self.points).as_dict(), other))
        # The loss every start reaches (the worst final loss): how many steps each needs to get there.
        level = max(hist["coarse"][-1] for _, hist, _, _ in runs)
        for variant, hist, g, res in runs:
            init.per_object.append(
                {
                    "object": name,
                    "variant": variant,
                    "start": res.stats.get("init"),
                    "steps_to_common_loss": _steps_to_reach(hist["coarse"], level),
                    "coarse_steps": len(hist["coarse"]),
                    "initial_loss": hist["coarse"][0],
                    "final_loss": hist["coarse"][-1],
                    "volume_iou": g["volume_iou"],
                }
            )
        frozen = self.run(truth, views, PipelineOptions(freeze_sdf=True), texture=False)
        frozen_geometry = evaluate_geometry(frozen.mesh, truth, count=self.points).as_dict()
        for variant, res, g in (("SDF keeps training", main_result, main_geometry), ("frozen SDF", frozen, frozen_geometry)):
            freeze.per_object.append(
                {
                    "object": name,
                    "variant": variant,
                    # Image terms only: the unfrozen run also pays the field's regulariser.
                    "final_mask_loss": res.stats.get("refine_mask", float("nan")),
                    "final_normal_loss": res.stats.get("refine_normal", float("nan")),
                    "volume_iou": g["volume_iou"],
                    "chamfer": g["chamfer"],
                    "f_score_002": g["f_score_002"],
                    "watertight": is_watertight(res.mesh),
                    "refine_s": res.timings.get("refine", float("nan")),
                }
            )
        exact = self.run(truth, views, PipelineOptions(correct_views=False), texture=False)
        exact_geometry = evaluate_geometry(exact.mesh, truth, count=self.points).as_dict()
        for variant, res, g in (("corrected", main_result, main_geometry), ("exact cameras", exact, exact_geometry)):
            ablations.cameras.per_object.append(
                {
                    "object": name,
                    "variant": variant,
                    "volume_iou": g["volume_iou"],
                    "chamfer": g["chamfer"],
                    "f_score_002": g["f_score_002"],
                    "largest_shift_px": res.stats.get("view_shift_px", 0.0),
                    "elevation_deg": res.stats.get("view_elevation_deg", 0.0),
                }
            )
        preset = get_preset(self.settings.preset)
        alike = self.run(truth, views, PipelineOptions(preset=replace(preset, **PLAIN_LOSSES)), texture=False)
        alike_geometry = evaluate_geometry(alike.mesh, truth, count=self.points).as_dict()
        for variant, g in (("confidence-weighted", main_geometry), ("plain", alike_geometry)):
            ablations.confidence.per_object.append(
                {
                    "object": name,
                    "variant": variant,
                    "volume_iou": g["volume_iou"],
                    "chamfer": g["chamfer"],
                    "f_score_002": g["f_score_002"],
                }
            )
        plain = self.run(truth, views, PipelineOptions(view_aware=False))
        for variant, res in (("view-aware", main_result), ("plain", plain)):
            novel = image_scores(truth, res.mesh, novel_cameras(), self.view_size)
            ablations.texture.per_object.append(
                {"object": name, "variant": variant, "novel_psnr": novel["psnr"], "novel_ssim": novel["ssim"]}
            )


def summarise_ablation(ab: Ablation) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for variant in ab.variants:
        rows = [r for r in ab.per_object if r["variant"] == variant]
        keys = [k for k in (rows[0] if rows else {}) if k not in ("object", "variant", "start")]
        out[variant] = {k: _mean_std([float(r[k]) for r in rows]) for k in keys}
    return out


def evaluate_generation(
    root: Path,
    out: Path,
    settings: GenerateSettings,
    prior: ShapePrior,
    limit: int | None = None,
    ablation_objects: int = 0,
    view_size: int = 256,
    points: int = SURFACE_POINTS,
    log=print,
    up: str | None = None,
    kind: str | None = None,
    degradation: Degradation | None = None,
) -> dict[str, Any]:
    """Every entry of `root` (io/eval_meshes.py's rules; `up`, `kind`: defaults for entries
    nothing else orients or labels) through the oracle path, scored, with the ablations on
    the first `ablation_objects`. With `degradation` the pipeline (and the ablations) get
    perturbed views (eval/degrade.py, seeded by the run's seed and the entry's name), while
    prior-view scores stay against the exact views. An entry that fails to load or to
    reconstruct is a failure row and the run goes on; the report is rewritten after every
    object."""
    entries = find_eval_meshes(root, up, kind)
    entries = entries[:limit] if limit else entries
    out.mkdir(parents=True, exist_ok=True)
    evaluator = GenerationEvaluator(settings, prior, view_size, points)
    ablations = Ablations(Ablation("initialisation", _init_variants(prior)))
    objects: list[ObjectScores] = []
    failures: list[dict[str, Any]] = []
    sheets: list[np.ndarray] = []
    start = time.perf_counter()

    def save_report() -> dict[str, Any]:
        """Written after every object, so a run stopped early still leaves its results."""
        rows = [{"name": o.name, **_flat(o)} for o in objects]
        keys = list(dict.fromkeys(k for r in rows for k in r if k != "name"))
        report = {
            "protocol": PROTOCOL,
            "preset": settings.preset,
            "device": objects[0].stats.get("device") if objects else None,
            "shape_prior": prior.source,
            "lin": prior.lin is not None,
            "view_size": view_size,
            "surface_points": points,
            "degradation": degradation.as_dict() if degradation is not None else None,
            "objects_planned": [e.name for e in entries],
            "mesh_entries": [e.as_dict() for e in entries],
            "objects": [asdict(o) for o in objects],
            "failed": failures,
            "mean": means(rows, keys),
            "by_kind": means_by_kind(rows, {e.name: e.kind for e in entries}, keys),
            "ablations": {
                ab.name: {
                    "variants": list(ab.variants),
                    "objects": sorted({r["object"] for r in ab.per_object}),
                    "summary": summarise_ablation(ab),
                    "per_object": ab.per_object,
                }
                for ab in ablations.all()
                if ab.per_object
            },
            "wall_s": time.perf_counter() - start,
        }
        write_report(out, "generation_eval", report, markdown)
        if sheets:
            write_png(out / "generation_eval.png", np.concatenate(sheets, axis=0))
        return report

    def reconstruct(entry: EvalEntry) -> tuple[Mesh, ViewSet, dict[str, list[float]], Any, ObjectScores]:
        truth, exact = oracle_views(load_oracle_mesh(entry), resolution=view_size)
        views = exact
        if degradation is not None:
            views = render_degraded(truth, degradation, object_seed(settings.seed, entry.name), view_size)
        history: dict[str, list[float]] = {}
        result = evaluator.run(truth, views, PipelineOptions(history=history))
        scores = evaluator.score(entry.name, truth, exact, result, entry.kind)
        scores.view_scale = estimate_view_scale(views.alpha, prior_cameras()).scale
        return truth, views, history, result, scores

    report = save_report()
    for k, entry in enumerate(entries):
        done = attempt(entry, reconstruct, failures, log)
        if done is None:
            report = save_report()
            continue
        truth, views, history, result, scores = done
        objects.append(scores)
        sheets.append(
            _labelled(comparison_grids(views, render_mesh_views(result.mesh, prior_cameras(), view_size), 80), entry.name)
        )
        log(
            f"{entry.name}: IoU {scores.geometry['volume_iou']:.3f}, Chamfer {scores.geometry['chamfer']:.4f}, "
            f"PSNR {scores.prior_views['psnr']:.2f}/{scores.novel_views['psnr']:.2f} in {scores.timings['total']:.0f} s",
            flush=True,
        )
        report = save_report()
        if k < ablation_objects:
            ablation = EvalEntry(f"{entry.name} (ablations)", entry.path)
            attempt(
                ablation,
                lambda _: evaluator.ablate(entry.name, truth, views, (history, result, scores.geometry), ablations),
                failures,
                log,
            )
            report = save_report()
    return report


PROTOCOL = (
    "Oracle views: each mesh fitted into the radius-0.5 sphere and rendered (RGB over grey 0.5, alpha, camera-space "
    "normals) in the six Zero123++ v1.2 cameras. Geometry (docs/design.md §7): prediction and fitted ground truth each "
    "normalised to a unit bounding box (centred, longest side 1), uniform surface samples, Chamfer = mean of the two "
    "mean nearest-neighbour distances (not squared), F-score at 0.05 and 0.02, volume IoU on 64^3 cell centres by "
    "winding number. Images: PSNR (dB) and SSIM (11x11 Gaussian, sigma 1.5) on RGB over grey, whole frame, in the six "
    "prior views and six novel views (azimuth 0-300 step 60, elevations 0/30/0/30/0/-20)."
)


def _flat(o: ObjectScores) -> dict[str, float]:
    """One object's numbers under flat names (what the means and per-kind means average)."""
    return {
        **o.geometry,
        **{f"prior_{k}": v for k, v in o.prior_views.items()},
        **{f"novel_{k}": v for k, v in o.novel_views.items()},
        **{f"time_{k}": v for k, v in o.timings.items()},
        "watertight": float(o.watertight),
        **({"view_scale": o.view_scale} if o.view_scale is not None else {}),
    }


def _labelled(sheet: np.ndarray, name: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    strip = Image.new("RGB", (sheet.shape[1], 16), (255, 255, 255))
    ImageDraw.Draw(strip).text((4, 2), name, fill=(0, 0, 0))
    return np.concatenate([np.asarray(strip, dtype=np.float32) / 255.0, sheet[..., :3]], axis=0)


def _degradation_lines(degradation: dict[str, Any] | None) -> list[str]:
    """The views' perturbations and every parameter, so a table is never read as exact views."""
    if degradation is None:
        return []
    values = ", ".join(f"{k} {v}" for k, v in degradation.items() if k not in ("level", "active"))
    active = ", ".join(degradation["active"]) or "none (exact views)"
    return [
        f"Views degraded (eval/degrade.py): level {degradation['level']}, perturbations on: {active}; parameters: {values}.",
        "",
    ]


KIND_COLUMNS = [
    ("chamfer", "Chamfer ↓", ".4f"),
    ("volume_iou", "vol. IoU ↑", ".3f"),
    ("f_score_005", "F@0.05 ↑", ".3f"),
    ("f_score_002", "F@0.02 ↑", ".3f"),
    ("prior_psnr", "PSNR prior ↑", ".2f"),
    ("novel_psnr", "PSNR novel ↑", ".2f"),
]


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Preset `{report['preset']}` on {report['device']}; shape prior: {report['shape_prior']}; "
        f"LIN: {'yes' if report['lin'] else 'no'}; {len(report['objects'])} of {len(report['objects_planned'])} objects; views {report['view_size']} px; "
        f"{report['surface_points']} surface points; total wall time {report['wall_s'] / 60:.1f} min.",
        "",
        f"Protocol: {report['protocol']}",
        "",
        *_degradation_lines(report.get("degradation")),
        "| object | Chamfer ↓ | vol. IoU ↑ | F@0.05 ↑ | F@0.02 ↑ | PSNR prior ↑ | SSIM prior ↑ | PSNR novel ↑ | SSIM novel ↑ "
        "| watertight | coarse s | refine s | texture s | total s |",
        "|---" * 14 + "|",
    ]

    def row(name: str, g: dict, p: dict, n: dict, t: dict, w: str) -> str:
        return (
            f"| {name} | {g['chamfer']:.4f} | {g['volume_iou']:.3f} | {g['f_score_005']:.3f} | {g['f_score_002']:.3f} | "
            f"{p['psnr']:.2f} | {p['ssim']:.3f} | {n['psnr']:.2f} | {n['ssim']:.3f} | {w} | "
            f"{t.get('coarse', 0):.0f} | {t.get('refine', 0):.0f} | {t.get('texture', 0):.0f} | {t.get('total', 0):.0f} |"
        )

    for o in report["objects"]:
        lines.append(
            row(o["name"], o["geometry"], o["prior_views"], o["novel_views"], o["timings"], "yes" if o["watertight"] else "no")
        )
    m = report["mean"]
    if report["objects"]:
        lines.append(
            row(
                "**mean**",
                m,
                {"psnr": m["prior_psnr"], "ssim": m["prior_ssim"]},
                {"psnr": m["novel_psnr"], "ssim": m["novel_ssim"]},
                {k[5:]: v for k, v in m.items() if k.startswith("time_")},
                f"{m['watertight']:.0%}",
            )
        )
    lines += kind_lines(report["by_kind"], KIND_COLUMNS)
    lines += failure_lines(report["failed"])
    for name, ab in report["ablations"].items():
        lines += ["", f"Ablation — {name} ({len(ab['objects'])} objects: {', '.join(ab['objects'])}); mean ± spread (std):", ""]
        keys = list(next(iter(ab["summary"].values())))
        lines.append("| variant | " + " | ".join(k.replace("_", " ") for k in keys) + " |")
        lines.append("|---" * (len(keys) + 1) + "|")
        for variant, summary in ab["summary"].items():
            lines.append(
                f"| {variant} | " + " | ".join(f"{summary[k]['mean']:.4g} ± {summary[k]['std']:.2g}" for k in keys) + " |"
            )
    return "\n".join(lines) + "\n"
