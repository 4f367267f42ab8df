"""`latentdreamer demo`: the README's main job, on an object the project makes itself.

Runs the most complete path the backend has, with no network and no external weights:
a seeded random object -> FlexiCubes mesh -> colours -> GLB, plus a contact sheet of the
mesh rendered in the six prior cameras (colour and normal maps).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the GLB and PNGs")
    parser.add_argument("--seed", type=int, default=7, help="which random object to make")
    parser.add_argument("--resolution", type=int, default=64, help="SDF grid samples per axis")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from latentdreamer.geometry.flexicubes import flexicubes
    from latentdreamer.geometry.mesh import Mesh
    from latentdreamer.geometry.random_shapes import random_sdf
    from latentdreamer.io.images import rendered_to_image, write_png
    from latentdreamer.io.mesh_io import save_mesh
    from latentdreamer.render.cameras import prior_cameras
    from latentdreamer.render.grid_image import join_grid
    from latentdreamer.render.views import render_views

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sdf = torch.from_numpy(random_sdf(args.seed, args.resolution))
    extracted = flexicubes(sdf)
    vertices, faces = extracted.vertices.detach(), extracted.faces
    # Colour by position so orientation is visible: red +X, green +Y, blue +Z.
    colors = (vertices / 1.0 + 0.5).clamp(0, 1)
    mesh = Mesh(vertices.numpy(), faces.numpy(), colors.numpy())
    glb = save_mesh(mesh, out / "demo.glb")

    views = render_views(vertices, faces, prior_cameras(), resolution=320, colors=colors)
    rgb = rendered_to_image(views.rgb)
    normals = rendered_to_image(views.normals)
    sheet = np.concatenate([join_grid(list(rgb)), join_grid(list(normals))], axis=1)
    png = write_png(out / "demo_views.png", sheet)
    seconds = time.perf_counter() - t0
    print(f"object seed {args.seed}: {mesh.num_vertices} vertices, {mesh.num_faces} triangles in {seconds:.1f} s")
    print(f"mesh:  {glb.resolve()}")
    print(f"views: {png.resolve()} (left: colours, right: normal maps, six prior cameras)")
    return 0
