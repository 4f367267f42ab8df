"""The oracle path: a known mesh rendered into the six prior views, standing in for the prior.

Used by `generate --from-mesh`, the demo and the evaluation: with perfect views, whatever is
wrong with the result is the reconstruction's fault, not the diffusion model's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentdreamer.api import ViewSet
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.geometry.normalise import fit_in_sphere
from latentdreamer.io.eval_meshes import EvalEntry, entry_for_file, load_textured_eval_mesh
from latentdreamer.io.images import rendered_to_image
from latentdreamer.render.cameras import Cameras, prior_cameras
from latentdreamer.render.textured import render_textured
from latentdreamer.render.views import render_views

DEFAULT_GREY = 0.7
"""Colour of a mesh without colours: a light grey reads as 'no texture' in a contact sheet."""


def render_mesh_views(mesh: Mesh, cameras: Cameras | None = None, resolution: int = 320) -> ViewSet:
    """RGB over grey 0.5, alpha and encoded camera-space normals; images with row 0 at the top."""
    cameras = cameras or prior_cameras()
    vertices = torch.from_numpy(np.ascontiguousarray(mesh.vertices, dtype=np.float32))
    faces = torch.from_numpy(np.ascontiguousarray(mesh.faces, dtype=np.int64))
    colors = mesh.colors[:, :3] if mesh.colors is not None else np.full((len(vertices), 3), DEFAULT_GREY, np.float32)
    with torch.no_grad():
        r = render_views(
            vertices, faces, cameras, resolution, colors=torch.from_numpy(np.ascontiguousarray(colors, dtype=np.float32))
        )
        rgb = r.rgb
        if mesh.uvs is not None:  # a textured mesh shows its texture, not colours at its vertices
            rgb = render_textured(
                vertices, faces, torch.from_numpy(mesh.uvs), torch.from_numpy(mesh.texture), cameras, resolution
            )
    return ViewSet(
        rgb=rendered_to_image(rgb),
        alpha=rendered_to_image(r.mask)[..., 0],
        normals=rendered_to_image(r.normals),
    )


def oracle_views(mesh: Mesh, resolution: int = 320, with_normals: bool = True) -> tuple[Mesh, ViewSet]:
    """The mesh fitted into the radius-0.5 sphere (the frame results come back in) and its views."""
    fitted = fit_in_sphere(mesh)
    views = render_mesh_views(fitted, resolution=resolution)
    if not with_normals:
        views = ViewSet(rgb=views.rgb, alpha=views.alpha, normals=None)
    return fitted, views


def load_oracle_mesh(source: EvalEntry | Path | str) -> Mesh:
    """A mesh file (or evaluation entry) in the object frame, with its texture where it has
    one, else its colours; turned by the evaluation folders' orientation rules
    (io/eval_meshes.py), so ground truth and views agree.

    The texture itself, not colours sampled at its vertices: views rendered from vertex
    colours show only what a mesh of that density can hold, so they would cap the colour
    detail any result could recover and score a baked texture against a blurred truth.
    """
    if isinstance(source, EvalEntry):
        return load_textured_eval_mesh(source, plain_as_colours=True)
    return load_textured_eval_mesh(entry_for_file(source), plain_as_colours=True, what="mesh file")
