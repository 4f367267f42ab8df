"""The oracle views show a textured mesh's texture, not colours sampled at its vertices."""

from __future__ import annotations

import numpy as np
import trimesh
from PIL import Image

from latentdreamer.pipeline.oracle_views import load_oracle_mesh, oracle_views
from latentdreamer.render.cameras import prior_cameras


def test_a_textured_file_is_seen_with_its_texture(tmp_path):
    # A box whose texture is striped far finer than its 8 vertices: vertex colours would
    # show one blend, the texture shows both stripes in every view.
    box = trimesh.creation.box(extents=(0.6, 0.6, 0.6))
    box.unmerge_vertices()
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::8] = stripes[:, 1::8] = stripes[:, 2::8] = stripes[:, 3::8] = 255
    uv = np.tile(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), (len(box.faces), 1))
    box.visual = trimesh.visual.TextureVisuals(
        uv=uv, material=trimesh.visual.material.SimpleMaterial(image=Image.fromarray(stripes))
    )
    path = tmp_path / "striped.obj"
    box.export(path)
    mesh = load_oracle_mesh(path)
    assert mesh.uvs is not None and mesh.texture.shape == (64, 64, 3)
    _, views = oracle_views(mesh, resolution=96)
    inside = views.alpha > 0.999
    assert len(views.rgb) == len(prior_cameras())
    for rgb, covered in zip(views.rgb, inside, strict=True):
        grey = rgb[covered].mean(-1)
        assert (grey > 0.9).mean() > 0.2 and (grey < 0.1).mean() > 0.2  # both stripes, not one blend
