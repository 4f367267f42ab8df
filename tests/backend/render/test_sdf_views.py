import math

import pytest
import torch

from latentdreamer.geometry.flexicubes import flexicubes
from latentdreamer.geometry.grid import grid_points
from latentdreamer.geometry.random_shapes import random_sdf
from latentdreamer.render.cameras import orbit_cameras, prior_cameras
from latentdreamer.render.sdf_views import camera_rays, sdf_views
from latentdreamer.render.views import render_views

pytestmark = pytest.mark.usefixtures("one_thread")


def test_agrees_with_rasterising_the_flexicubes_mesh():
    """Same object, same cameras: the traced masks and normals match the rasterised mesh's."""
    sdf = torch.from_numpy(random_sdf(3, 32))
    mesh = flexicubes(sdf).to_mesh()
    cams = prior_cameras()
    ref = render_views(torch.from_numpy(mesh.vertices), torch.from_numpy(mesh.faces), cams, 48)
    mask, normals = sdf_views(sdf[None], cams, 48)
    a, b = ref.mask[..., 0] > 0.5, mask[0, ..., 0] > 0.5
    assert (a & b).sum() / (a | b).sum() > 0.96
    both = a & b
    cos = ((ref.normals * 2 - 1) * (normals[0] * 2 - 1)).sum(-1)[both]
    assert cos.mean() > 0.98
    outside = ~(a | b)
    assert torch.all(normals[0][outside] == 0.5)


def test_sphere_silhouette_and_normals_face_the_camera():
    n, c = 40, 24
    sdf = torch.from_numpy((torch.from_numpy(grid_points(n)).norm(dim=-1) - 0.3).numpy())
    cams = orbit_cameras([0.0], [0.0])
    mask, normals = sdf_views(
        torch.stack([sdf, sdf]), orbit_cameras([0.0, 120.0, 0.0, 120.0], [0.0, 40.0, 0.0, 40.0]), 2 * c, supersample=2
    )
    # The sphere's projected radius in pixels from the camera geometry.
    d = cams.positions[0].norm().item()
    f = cams.proj[0, 1, 1].item()
    r_px = math.tan(math.asin(0.3 / d)) * f * c
    area = mask[..., 0].sum((-1, -2))
    torch.testing.assert_close(area, torch.full_like(area, math.pi * r_px**2), rtol=0.03, atol=0)
    centre = normals[0, 0, c, c] * 2 - 1  # the pixel at the image centre sees the sphere head-on
    assert centre[2] > 0.99
    right = normals[0, 0, c, c + int(r_px * 0.7)] * 2 - 1  # right of centre: normal leans to +x
    up = normals[0, 0, c + int(r_px * 0.7), c] * 2 - 1  # row index grows upwards (row 0 at the bottom)
    assert right[0] > 0.5 and up[1] > 0.5


def test_rays_go_through_pixel_centres_towards_the_object():
    cams = prior_cameras()
    origins, dirs = camera_rays(cams, 8, 8)
    centre = (dirs[:, 27] + dirs[:, 28] + dirs[:, 35] + dirs[:, 36]) / 4
    torch.testing.assert_close(
        torch.nn.functional.normalize(centre, dim=-1), -origins / origins.norm(dim=-1, keepdim=True), atol=1e-4, rtol=0
    )
