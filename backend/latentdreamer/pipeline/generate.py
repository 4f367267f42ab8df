"""Six views in, a coloured mesh out: the pipeline's entry point (docs/design.md §2 items 4-7).

init (LIN latent, zero latent, or the visual hull without an SAE) -> coarse (fit the shape
field) -> refine (FlexiCubes weights + deformation, the field still training) -> Loop subdivision once ->
texture (colour grid, view-aware loss) -> vertex colours. Every stage reports through the one
progress callback and checks cancellation between steps; a cancellation carries the best
mesh so far. The worker, the CLI, the demo and the evaluation all call `generate_from_views`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from latentdreamer import threads
from latentdreamer.api import Callbacks, GenerateSettings, GenerationResult, ViewSet
from latentdreamer.device import resolve_device
from latentdreamer.geometry.flexicubes import flexicubes
from latentdreamer.geometry.grid import grid_points
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.geometry.subdivision import loop_subdivision
from latentdreamer.geometry.uv_unwrap import subdivide_corner_uvs, unwrap
from latentdreamer.locations import Locations
from latentdreamer.optimise.coarse import geometry_objective, optimise_coarse
from latentdreamer.optimise.presets import Preset, get_preset
from latentdreamer.optimise.progress import JobProgress
from latentdreamer.optimise.refine import optimise_refine
from latentdreamer.optimise.shape_field import GridField, LatentField
from latentdreamer.optimise.targets import ViewTargets, view_masks, view_targets
from latentdreamer.optimise.texture import fit_colour_grid, grid_colours
from latentdreamer.optimise.view_corrections import ViewCorrections
from latentdreamer.pipeline.shape_prior import ShapePrior, load_shape_prior
from latentdreamer.render.bake.bake import PADDING as BAKE_PADDING
from latentdreamer.render.bake.bake import bake_texture
from latentdreamer.render.cameras import Cameras, adjusted, prior_cameras
from latentdreamer.render.silhouette_scale import estimate_view_scale
from latentdreamer.render.visual_hull import visual_hull_sdf

SPHERE_RADIUS = 0.3
STAGE_SHARES = {"init": 0.01, "coarse": 0.86, "refine": 0.06, "subdivide": 0.01, "texture": 0.04, "bake": 0.02}
"""Each stage's share of the progress bar, as measured (benchmarks/bench_pipeline.py, 2 cores):
the coarse stage takes 0.80 of the time at `draft` (init 0.1 s, coarse 3.5 s, refine 0.5 s,
texture 0.3 s) and 0.92 at `standard` (0.2 / 27.1 / 1.3 / 0.8 s, coarse converged at step 171
of 300), so the ETA is not thrown off by it; a coarse stage that converges early still jumps
to the end of its share."""


@dataclass(frozen=True)
class PipelineOptions:
    """Switches for ablations and tests; users only choose GenerateSettings."""

    init: str = "auto"
    """With an SAE: "auto" (LIN when installed, else the SAE encoding of the visual hull),
    "lin", "hull", "best" (of LIN and the hull encoding, the one whose decoded shape matches
    the views best: the default until views that disagree showed it picks a carved hull,
    docs/evaluation.md "Imperfect views"), or "zero" (the prior mean: the uninformed start of
    the ablation). Without an SAE: "auto"/"hull" (the visual hull) or "sphere" (a ball of
    radius 0.3; the uninformed start the ablation compares with)."""
    freeze_sdf: bool = False
    """Refine with the SDF frozen (the paper's choice) instead of still training the field.
    Measured at degradation levels 0-3 (`eval generate --ablations 3`, docs/evaluation.md
    "Imperfect views"): the field still training scored the higher volume IoU and the lower
    Chamfer distance in 11 of 12 object-level pairs, closed meshes either way, for ~1 s more
    at `standard`; so the default trains it, and True is the ablation."""
    view_aware: bool = True
    fit_framing: bool = True
    """Zoom the cameras to the object's size in the views, measured from their silhouettes
    (render/silhouette_scale.py), so the shape fills the grid as the prior assumes; False
    trusts the views to show it at the assumed size (the ablation)."""
    correct_views: bool = True
    """Optimise per-view camera corrections with the shape (optimise/view_corrections.py);
    False keeps the prior cameras exact (the ablation)."""
    use_sae: bool = True
    preset: Preset | None = None
    """Overrides settings.preset (benchmarks that sweep a parameter)."""
    history: dict[str, list[float]] | None = None
    """If given, filled with each stage's per-step losses (for the evaluation's ablations)."""


def _initial_latent(prior: ShapePrior, init: str, targets: ViewTargets, hull: torch.Tensor) -> tuple[torch.Tensor, str]:
    sae = prior.sae
    shape = (1, sae.config.latent_channels, *(sae.config.latent_size,) * 3)
    device = targets.mask.device
    if init in ("auto", "lin") and prior.lin is not None:
        size = prior.lin.config.image_size
        resize = lambda x: torch.nn.functional.interpolate(  # noqa: E731
            x.permute(0, 3, 1, 2), size=(size, size), mode="area"
        ).permute(0, 2, 3, 1)
        normals = None if targets.normals is None else resize(targets.normals)[None]
        return prior.lin.predict(resize(targets.mask)[None], normals, sae=sae).reshape(shape), "lin"
    if init == "lin":
        raise ValueError("init='lin' needs LIN weights paired with the SAE")
    if init in ("auto", "hull"):
        r = sae.config.resolution
        with torch.no_grad():
            mean, _ = sae.encode(
                torch.nn.functional.interpolate(hull[None, None], size=(r, r, r), mode="trilinear", align_corners=True)
            )
        return mean, "hull"
    return torch.zeros(shape, device=device), "zero"


def _framed(cameras: Cameras, masks: np.ndarray) -> tuple[Cameras, float]:
    """The cameras zoomed so the object in the views fills the radius-0.5 sphere the grid and
    the shape prior are built for, and the zoom: an object 6 % smaller than assumed cost the
    cat 0.10 volume IoU at `standard` (docs/evaluation.md, "Imperfect views")."""
    framing = estimate_view_scale(masks, cameras).framing
    if framing == 1.0:
        return cameras, 1.0
    zoom = torch.full((len(cameras),), math.log(framing), device=cameras.view.device)
    none = torch.zeros_like(zoom)
    return adjusted(cameras, torch.zeros(len(cameras), 2, device=zoom.device), none, zoom, none[0]), round(framing, 4)


def _best_start(prior: ShapePrior, targets: ViewTargets, hull: torch.Tensor, cameras, preset: Preset) -> tuple[LatentField, str]:
    """Of the LIN latent and the SAE encoding of the visual hull, the one whose decoded shape
    already matches the views best (one render each): init="best". Chosen when a LIN trained
    on few shapes started further away than the hull (the demo object with the 18:52 training
    snapshots at `tiny`: volume IoU 0.33 from LIN, 0.81 from the hull); no longer the default,
    because on views that disagree the hull, carved by every view's error, matches them best
    at the start and ends worst (the armchair at degradation level 2: 0.24 from the hull, 0.81
    from LIN; docs/evaluation.md, "Imperfect views")."""
    candidates = ["hull"] + (["lin"] if prior.lin is not None else [])
    best: tuple[float, LatentField, str] | None = None
    for init in candidates:
        z0, how = _initial_latent(prior, init, targets, hull)
        field = LatentField(prior.sae, z0, preset.sdf_resolution, refresh_steps=preset.band_refresh_steps)
        with torch.no_grad():
            extracted = flexicubes(field.sdf(), training=True)
            loss = float("inf")
            if extracted.faces.shape[0]:
                loss = float(geometry_objective(extracted, targets, cameras, preset, preset.mask_weight_start)[0])
        if best is None or loss < best[0]:
            best = (loss, field, how)
    return best[1], best[2]


def bake_texture_from_views(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    views: ViewSet,
    grid: torch.Tensor,
    cameras,
    preset: Preset,
    view_aware: bool = True,
    unwrap_from: tuple[torch.Tensor, torch.Tensor] | None = None,
):
    """The UV texture of the final mesh from the six views at their own resolution (320 px
    from Zero123++, finer than the texture stage's renders), the fitted colour grid filling
    what no view sees; `view_aware=False` weighs every view that sees a point alike (k = 0).

    `unwrap_from`: the mesh before its Loop step; unwrapping that and subdividing the UVs is
    four times cheaper than unwrapping the final mesh (the dearest step of the bake)."""
    import time

    size = int(views.rgb.shape[1])
    targets = view_targets(views, size, vertices.device)
    corner_uvs, started = None, time.perf_counter()
    if unwrap_from is not None:
        padding = max(2, round(BAKE_PADDING * preset.bake_resolution / 1024))
        coarse_v, coarse_f = unwrap_from
        corner_uvs = subdivide_corner_uvs(unwrap(coarse_v.cpu().numpy(), coarse_f.cpu().numpy(), preset.bake_resolution, padding))
    unwrap_s = time.perf_counter() - started
    baked = bake_texture(
        vertices,
        faces,
        targets.rgb,
        targets.mask,
        cameras,
        preset.bake_resolution,
        preset.view_power if view_aware else 0.0,
        lambda p: grid_colours(grid, p),
        corner_uvs=corner_uvs,
    )
    baked.timings["unwrap"] += unwrap_s
    return baked


def generate_from_views(
    views: ViewSet,
    settings: GenerateSettings,
    callbacks: Callbacks | None = None,
    options: PipelineOptions | None = None,
    prior: ShapePrior | None = None,
) -> GenerationResult:
    """Six views -> textured mesh: the stages below, on one CPU thread (threads.small_ops)."""
    device = resolve_device(settings.device)
    if device.type != "cpu":
        return _generate(views, settings, device, callbacks, options, prior)
    with threads.small_ops():
        return _generate(views, settings, device, callbacks, options, prior)


def _generate(
    views: ViewSet,
    settings: GenerateSettings,
    device: torch.device,
    callbacks: Callbacks | None,
    options: PipelineOptions | None,
    prior: ShapePrior | None,
) -> GenerationResult:
    callbacks = callbacks or Callbacks()
    options = options or PipelineOptions()
    preset = options.preset or get_preset(settings.preset)
    torch.manual_seed(settings.seed)
    progress = JobProgress(callbacks, STAGE_SHARES, settings.preview_every)
    timings: dict[str, float] = {}
    stats: dict[str, float | int | str] = {"preset": preset.name, "device": str(device)}
    cameras = prior_cameras().to(device)
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    # a. initialisation
    progress.check_cancel("init")
    targets = view_targets(views, preset.render_resolution, device)
    if options.fit_framing:
        cameras, stats["view_framing"] = _framed(cameras, view_masks(views))
    stats["mode"] = "normals" if targets.normals is not None else "masks-only"
    hull = visual_hull_sdf(targets.mask, cameras, preset.sdf_resolution)
    prior = prior or load_shape_prior(device, Locations(), use_sae=options.use_sae)  # the shipped SAE + LIN
    stats["shape_prior"] = prior.source
    if prior.sae is not None and options.init == "best":
        field, stats["init"] = _best_start(prior, targets, hull, cameras, preset)
    elif prior.sae is not None:
        z0, stats["init"] = _initial_latent(prior, options.init, targets, hull)
        field = LatentField(prior.sae, z0, preset.sdf_resolution, refresh_steps=preset.band_refresh_steps)
    elif options.init in ("auto", "hull"):
        field, stats["init"] = GridField(hull, preset.smooth_weight), "visual-hull"
    elif options.init == "sphere":
        points = torch.from_numpy(grid_points(preset.sdf_resolution)).to(device)
        field, stats["init"] = GridField(points.norm(dim=-1) - SPHERE_RADIUS, preset.smooth_weight), "sphere"
    else:
        raise ValueError(f"init {options.init!r} needs an SAE; without one use 'hull' or 'sphere'")
    progress.finish("init", str(stats["init"]))
    lap("init")

    # b. coarse
    corrections = None
    if options.correct_views:
        start = round(preset.view_correction_start * preset.coarse.max_steps)
        corrections = ViewCorrections(len(cameras), device, preset.view_correction_weight, start)
    sdf, coarse = optimise_coarse(field, targets, cameras, preset, progress, hull, corrections=corrections)
    if isinstance(field, LatentField):  # how the band decode went (optimise/shape_field.py)
        stats.update(coarse_full_decodes=field.full_decodes, coarse_band_escapes=field.band_escapes)
    if not ((sdf < 0).any() and (sdf > 0).any()):
        # An untrained or mismatched decoder can end with no surface at all; the visual hull
        # still gives the user a mesh (and the stats say so) instead of an error.
        sdf, stats["coarse_fallback"] = hull, "visual hull (the shape field had no surface)"
    lap("coarse")
    # c. refine; a field that lost its surface (the hull stands in for it) stays out of it
    freeze = options.freeze_sdf or "coarse_fallback" in stats
    extracted, refine = optimise_refine(sdf, targets, cameras, preset, progress, field, freeze, corrections=corrections)
    if corrections is not None:  # the colour stages see the views where the shape found them
        cameras = corrections.detached(cameras)
        stats.update(corrections.summary(int(views.rgb.shape[1])))
    vertices, faces = extracted.vertices.detach(), extracted.faces
    if faces.shape[0] == 0:
        raise RuntimeError("the optimised shape has no surface; check that the six masks show the object")
    progress.keep(Mesh(vertices.cpu().numpy(), faces.cpu().numpy()))
    lap("refine")
    # d. Loop subdivision, once
    progress.check_cancel("subdivide")
    before_subdivision = (vertices, faces)
    sub = loop_subdivision(faces, vertices.shape[0])
    vertices, faces = sub(vertices), sub.faces.to(device)
    progress.keep(Mesh(vertices.cpu().numpy(), faces.cpu().numpy()))
    progress.finish("subdivide")
    lap("subdivide")
    # e. texture
    colors = grid = baked = None
    if settings.texture:
        tex_targets = view_targets(views, preset.texture_resolution, device)
        grid, texture = fit_colour_grid(vertices, faces, tex_targets, cameras, preset, progress, options.view_aware)
        rgb = grid_colours(grid, vertices)
        colors = np.concatenate([rgb.cpu().numpy(), np.ones((len(rgb), 1), np.float32)], axis=1)
        stats.update(iterations_texture=texture.steps, loss_texture=texture.final_loss)
    else:
        progress.finish("texture", "skipped")
    lap("texture")
    # f. UV texture baked from the views at their own resolution
    if settings.texture == "uv":
        progress.check_cancel("bake")
        baked = bake_texture_from_views(
            vertices, faces, views, grid, cameras, preset, options.view_aware, unwrap_from=before_subdivision
        )
        stats.update(
            texture_size=preset.bake_resolution,
            texture_coverage=round(baked.coverage, 4),
            **{f"bake_{step}_s": round(s, 3) for step, s in baked.timings.items()},
        )
        progress.finish("bake")
    else:
        progress.finish("bake", "skipped")
    lap("bake")

    mesh = Mesh(
        vertices.cpu().numpy().astype(np.float32),
        faces.cpu().numpy().astype(np.int64),
        colors,
        uvs=None if baked is None else baked.corner_uvs,
        texture=None if baked is None else baked.image,
    )
    stats.update(
        vertices=mesh.num_vertices,
        triangles=mesh.num_faces,
        iterations_coarse=coarse.steps,
        iterations_refine=refine.steps,
        loss_coarse=coarse.final_loss,
        loss_refine=refine.final_loss,
        converged_coarse=int(coarse.converged),
        converged_refine=int(refine.converged),
    )
    for name, value in {**coarse.terms}.items():
        stats[f"coarse_{name}"] = value
    for name, value in {**refine.terms}.items():
        stats[f"refine_{name}"] = value
    if options.history is not None:
        options.history.update(coarse=coarse.losses, refine=refine.losses, texture=texture.losses if settings.texture else [])
    timings["total"] = sum(timings.values())
    return GenerationResult(mesh=mesh, stats=stats, timings=timings)
