"""Baked UV texture against vertex colours (the baseline), on the textured development meshes.

    .venv-backend/bin/python benchmarks/bench_uv_texture.py [--preset standard] [--threads 2]
        [--meshes cow_spot duck_bob ...] [--save DIR]

Protocol: each mesh with its real texture (io/eval_meshes.load_textured_eval_mesh) is fitted
into the radius-0.5 sphere and rendered into the six prior views at 320 px (RGB from the
texture, alpha, normals); `generate_from_views` runs once with texture="uv", which gives
both outputs of the same geometry: the vertex colours (the baseline, what texture="vertex"
writes) and the baked texture. Both are rendered in the six prior cameras and in six novel
ones (azimuths 0, 60, ... 300, halfway between the prior ones, elevations 0, 30, -20, 10,
30, -20) and scored against the ground truth rendered the same way with its texture: PSNR
and SSIM (metrics/image.py: RGB over grey 0.5, whole 320 px frame, per view, averaged).
Whole-frame scores mix geometry and colour (a silhouette off by a pixel costs as much as a
wrong colour), so a third score isolates the colour: PSNR over the pixels that both the
truth and the result cover fully ("colour PSNR", novel views), where only the colours differ,
and a fourth bounds what any colour could gain on this geometry: the novel views' PSNR with
those pixels copied from the truth ("ceiling"; the rest is silhouette error).
Time: the bake's own seconds (unwrap, texels, views, dilation) are what uv adds per object;
the total is the whole generation. `--save DIR` writes each result as npz (with UVs and
texture) and a side-by-side picture (truth | vertex colours | texture) of the first novel view.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

TEXTURED = ("armchair", "cow_spot", "cup_blue", "duck_bob", "ycb_banana")
NOVEL_AZIMUTHS = (0.0, 60.0, 120.0, 180.0, 240.0, 300.0)
NOVEL_ELEVATIONS = (0.0, 30.0, -20.0, 10.0, 30.0, -20.0)
RESOLUTION = 320


def render_colours(mesh, cameras) -> np.ndarray:
    """Vertex-coloured render, images row 0 at the top."""
    from latentdreamer.io.images import rendered_to_image
    from latentdreamer.render.views import render_views

    v = torch.from_numpy(mesh.vertices)
    f = torch.from_numpy(mesh.faces)
    with torch.no_grad():
        rgb = render_views(v, f, cameras, RESOLUTION, colors=torch.from_numpy(mesh.colors[:, :3])).rgb
    return rendered_to_image(rgb)


def render_texture(mesh, cameras) -> np.ndarray:
    from latentdreamer.io.images import rendered_to_image
    from latentdreamer.render.textured import render_textured

    with torch.no_grad():
        rgb = render_textured(
            torch.from_numpy(mesh.vertices),
            torch.from_numpy(mesh.faces),
            torch.from_numpy(mesh.uvs),
            torch.from_numpy(mesh.texture),
            cameras,
            RESOLUTION,
        )
    return rendered_to_image(rgb)


def scores(pred: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    from latentdreamer.metrics.image import psnr, ssim

    return float(np.mean(psnr(pred, ref))), float(np.mean(ssim(pred, ref)))


def coverage(mesh, cameras) -> np.ndarray:
    """(B, H, W) coverage of the mesh in the cameras, row 0 at the top."""
    from latentdreamer.io.images import rendered_to_image
    from latentdreamer.render.views import render_views

    with torch.no_grad():
        mask = render_views(torch.from_numpy(mesh.vertices), torch.from_numpy(mesh.faces), cameras, RESOLUTION).mask
    return rendered_to_image(mask)[..., 0]


def colour_psnr(pred: np.ndarray, ref: np.ndarray, both: np.ndarray) -> float:
    """PSNR over the pixels both silhouettes cover fully (all views pooled)."""
    mse = float(np.square(pred - ref)[both].mean())
    return 10.0 * np.log10(1.0 / mse)


def ceiling_psnr(pred: np.ndarray, ref: np.ndarray, both: np.ndarray) -> float:
    """Whole-frame PSNR (per view, averaged) with the pixels both silhouettes cover made perfect."""
    from latentdreamer.metrics.image import psnr

    perfect = np.where(both[..., None], ref, pred)
    return float(np.mean(psnr(perfect, ref)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--meshes", nargs="+", default=list(TEXTURED))
    parser.add_argument("--root", default=None, help="the development meshes (default ../shared/eval/meshes)")
    parser.add_argument("--save", default=None, help="folder for result npz files and comparison pictures")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from latentdreamer.api import GenerateSettings
    from latentdreamer.geometry.normalise import fit_in_sphere
    from latentdreamer.io.eval_meshes import default_eval_root, find_eval_meshes, load_textured_eval_mesh
    from latentdreamer.io.images import write_png
    from latentdreamer.pipeline.generate import generate_from_views
    from latentdreamer.pipeline.oracle_views import render_mesh_views
    from latentdreamer.render.cameras import orbit_cameras, prior_cameras

    root = Path(args.root) if args.root else default_eval_root()
    if not root.is_dir():
        raise SystemExit(f"no development meshes at {root}")
    entries = {e.name: e for e in find_eval_meshes(root)}
    missing = [m for m in args.meshes if m not in entries]
    if missing:
        raise SystemExit(f"unknown meshes {missing}; have {sorted(entries)}")
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)
    prior, novel = prior_cameras(), orbit_cameras(NOVEL_AZIMUTHS, NOVEL_ELEVATIONS)

    print(f"preset {args.preset}, {args.threads} threads, views {RESOLUTION} px; baseline = vertex colours of the same run")
    print(
        "| mesh | prior PSNR vertex / uv | prior SSIM vertex / uv | novel PSNR vertex / uv | novel SSIM vertex / uv "
        "| novel colour PSNR vertex / uv | novel ceiling | bake s | total s | texels seen |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for name in args.meshes:
        truth = fit_in_sphere(load_textured_eval_mesh(entries[name]))
        views = render_mesh_views(truth, prior, RESOLUTION)
        truth_novel_views = render_mesh_views(truth, novel, RESOLUTION)
        truth_novel = truth_novel_views.rgb
        started = time.perf_counter()
        result = generate_from_views(views, GenerateSettings(preset=args.preset, device="cpu", texture="uv"))
        total = time.perf_counter() - started
        mesh = result.mesh
        row = {"mesh": name, "bake": result.timings["bake"], "total": total, "seen": float(result.stats["texture_coverage"])}
        for label, cams, ref in (("prior", prior, views.rgb), ("novel", novel, truth_novel)):
            row[f"{label}_vertex"] = scores(render_colours(mesh, cams), ref)
            row[f"{label}_uv"] = scores(render_texture(mesh, cams), ref)
        both = (truth_novel_views.alpha > 0.999) & (coverage(mesh, novel) > 0.999)
        textured_novel = render_texture(mesh, novel)
        row["colour"] = (
            colour_psnr(render_colours(mesh, novel), truth_novel, both),
            colour_psnr(textured_novel, truth_novel, both),
        )
        row["ceiling"] = ceiling_psnr(textured_novel, truth_novel, both)
        rows.append(row)
        print(
            f"| {name} | {row['prior_vertex'][0]:.2f} / {row['prior_uv'][0]:.2f} "
            f"| {row['prior_vertex'][1]:.3f} / {row['prior_uv'][1]:.3f} "
            f"| {row['novel_vertex'][0]:.2f} / {row['novel_uv'][0]:.2f} "
            f"| {row['novel_vertex'][1]:.3f} / {row['novel_uv'][1]:.3f} "
            f"| {row['colour'][0]:.2f} / {row['colour'][1]:.2f} | {row['ceiling']:.2f} "
            f"| {row['bake']:.1f} | {row['total']:.1f} | {row['seen']:.3f} |",
            flush=True,
        )
        if save:
            from latentdreamer.worker.results import write_mesh_npz

            write_mesh_npz(save / f"{name}.npz", mesh)
            first = [truth_novel[0], render_colours(mesh, novel[0:1])[0], render_texture(mesh, novel[0:1])[0]]
            write_png(save / f"{name}_novel0.png", np.concatenate(first, axis=1))

    def mean(key: str, i: int) -> float:
        return statistics.mean(r[key][i] for r in rows)

    print(
        f"| mean | {mean('prior_vertex', 0):.2f} / {mean('prior_uv', 0):.2f} "
        f"| {mean('prior_vertex', 1):.3f} / {mean('prior_uv', 1):.3f} "
        f"| {mean('novel_vertex', 0):.2f} / {mean('novel_uv', 0):.2f} "
        f"| {mean('novel_vertex', 1):.3f} / {mean('novel_uv', 1):.3f} "
        f"| {mean('colour', 0):.2f} / {mean('colour', 1):.2f} | {statistics.mean(r['ceiling'] for r in rows):.2f} "
        f"| {statistics.mean(r['bake'] for r in rows):.1f} | {statistics.mean(r['total'] for r in rows):.1f} "
        f"| {statistics.mean(r['seen'] for r in rows):.3f} |"
    )
    gain = mean("novel_uv", 0) - mean("novel_vertex", 0)
    print(
        f"novel-view PSNR gain of uv over vertex colours: {gain:+.2f} dB (colour PSNR "
        f"{mean('colour', 1) - mean('colour', 0):+.2f} dB); bake adds "
        f"{max(r['bake'] for r in rows):.1f} s per object at most"
    )


if __name__ == "__main__":
    main()
