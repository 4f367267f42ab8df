import math

import pytest
import torch
import trimesh

from latentdreamer.render.cameras import PRIOR_DISTANCE, PRIOR_FOV_DEG, prior_cameras
from latentdreamer.render.views import render_views

RES = 96
RADIUS = 0.35
COLOUR = torch.tensor([0.9, 0.2, 0.1])


def apparent_radius_px(radius: float) -> float:
    """A sphere seen from distance d fills a cone of half-angle asin(r / d); the image plane
    at unit focal length maps tan(fov / 2) to the frame's half-height."""
    half_angle = math.asin(radius / PRIOR_DISTANCE)
    return math.tan(half_angle) / math.tan(math.radians(PRIOR_FOV_DEG / 2)) * RES / 2


@pytest.fixture(scope="module")
def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=RADIUS)
    return torch.tensor(mesh.vertices, dtype=torch.float32), torch.tensor(mesh.faces)


@pytest.fixture(scope="module")
def rendered(sphere):
    v, f = sphere
    return render_views(v, f, prior_cameras(), RES, colors=COLOUR.expand(len(v), 3))


def pixel_radius() -> torch.Tensor:
    centres = torch.arange(RES) + 0.5
    return torch.hypot(centres[None, :] - RES / 2, centres[:, None] - RES / 2)  # (row, column)


def test_shapes(rendered):
    assert rendered.mask.shape == (6, RES, RES, 1)
    assert rendered.normals.shape == (6, RES, RES, 3)
    assert rendered.depth.shape == (6, RES, RES, 1)
    assert rendered.rgb.shape == (6, RES, RES, 3)
    assert rendered.rast.shape == (6, RES, RES, 4)


def test_mask_is_a_disc_of_the_analytic_radius(rendered):
    expected = apparent_radius_px(RADIUS)
    assert 34.1 < expected < 34.3  # 0.35 m at 1.866 m with a 30 degree field of view, 96 px
    mask = rendered.mask[..., 0]
    radius = torch.sqrt(mask.sum(dim=(1, 2)) / math.pi)
    assert torch.allclose(radius, torch.full_like(radius, expected), atol=0.3)
    r = pixel_radius()
    assert mask[:, r < expected - 1.0].min() > 0.99
    assert mask[:, r > expected + 1.0].max() < 0.01


def test_normal_map_faces_the_camera_at_the_centre_and_turns_outward(rendered):
    n = rendered.normals
    c = RES // 2
    centre = n[:, c - 1 : c + 1, c - 1 : c + 1].mean(dim=(1, 2))
    assert torch.allclose(centre, torch.tensor([0.5, 0.5, 1.0]).expand(6, 3), atol=0.01)
    off = int(0.8 * apparent_radius_px(RADIUS))
    assert n[:, c, c + off, 0].min() > 0.75  # right: +x
    assert n[:, c, c - off, 0].max() < 0.25  # left: -x
    assert n[:, c + off, c, 1].min() > 0.75  # row 0 is the bottom: higher rows are up, +y
    assert n[:, c - off, c, 1].max() < 0.25
    assert torch.equal(n[:, 0, 0], torch.full((6, 3), 0.5))  # background grey
    inside = rendered.mask[..., 0] > 0.999
    decoded = n[inside] * 2 - 1
    assert torch.allclose(decoded.norm(dim=-1), torch.ones(len(decoded)), atol=1e-4)
    assert decoded[:, 2].min() > 0  # nothing visible faces away


def test_depth(rendered):
    c = RES // 2
    assert torch.allclose(rendered.depth[:, c, c, 0], torch.full((6,), PRIOR_DISTANCE - RADIUS), atol=2e-3)
    outside = pixel_radius() > apparent_radius_px(RADIUS) + 1
    assert rendered.depth[:, outside].abs().max() == 0
    inside = pixel_radius() < apparent_radius_px(RADIUS) - 1
    assert rendered.depth[:, inside].max() < PRIOR_DISTANCE


def test_rgb_from_constant_colours_over_the_background(rendered, sphere):
    inside = pixel_radius() < apparent_radius_px(RADIUS) - 1
    outside = pixel_radius() > apparent_radius_px(RADIUS) + 1
    assert torch.allclose(rendered.rgb[:, inside], COLOUR.expand(6, int(inside.sum()), 3), atol=1e-5)
    assert torch.equal(rendered.rgb[:, outside], torch.full((6, int(outside.sum()), 3), 0.5))
    v, f = sphere
    white = render_views(v, f, prior_cameras()[0], 32, colors=torch.zeros(len(v), 4), background=(1.0, 1.0, 1.0, 0.0))
    assert white.rgb.shape == (1, 32, 32, 4)
    assert torch.equal(white.rgb[0, 0, 0], torch.tensor([1.0, 1, 1, 0]))
    assert white.rgb[0, 16, 16].abs().max() == 0


def test_face_normals_are_flat_and_close_to_vertex_normals(sphere, rendered):
    v, f = sphere
    flat = render_views(v, f, prior_cameras(), RES, normals="face")
    assert flat.rgb is None
    inside = rendered.mask[..., 0] > 0.999
    difference = (flat.normals - rendered.normals)[inside].abs()
    assert difference.max() < 0.05 and difference.max() > 1e-3
    # Flat shading: pixels that see the same triangle get the same normal; smooth shading varies.
    ids = flat.rast[0, ..., 3][inside[0]]
    order = torch.argsort(ids)
    same = ids[order][1:] == ids[order][:-1]
    assert same.sum() > 100
    flat_n, smooth_n = flat.normals[0][inside[0]][order], rendered.normals[0][inside[0]][order]
    flat_step = (flat_n[1:] - flat_n[:-1]).abs().amax(dim=1)
    smooth_step = (smooth_n[1:] - smooth_n[:-1]).abs().amax(dim=1)
    assert flat_step[same].max() == 0 and smooth_step[same].max() > 1e-3
    with pytest.raises(ValueError, match="normals"):
        render_views(v, f, prior_cameras(), 8, normals="smooth")


def test_mask_gradient_follows_finite_differences_of_the_area():
    # Triangles a few pixels wide: the antialias pass sees the silhouette edge from the pixel
    # that owns it. (With sub-pixel triangles the owner is rarely the silhouette triangle and
    # the gradient shrinks; see the rasteriser's antialias notes.)
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=RADIUS)
    v, f = torch.tensor(mesh.vertices, dtype=torch.float32), torch.tensor(mesh.faces)
    cams = prior_cameras()[:2]

    def area(scale):
        return render_views(v * scale, f, cams, 64).mask.sum()

    scale = torch.tensor(1.0, requires_grad=True)
    area(scale).backward()
    h = 0.02
    with torch.no_grad():
        numeric = (area(torch.tensor(1 + h)) - area(torch.tensor(1 - h))) / (2 * h)
    # Pixel-pair antialiasing counts horizontal and vertical crossings, which overestimates a
    # round silhouette's length by up to 4/pi; allow that and a little more.
    assert 0.8 < scale.grad.item() / numeric.item() < 1.6


def test_gradients_reach_positions_and_colours(sphere):
    v, f = sphere
    v = v.clone().requires_grad_(True)
    colors = torch.full((len(v), 3), 0.3, requires_grad=True)
    out = render_views(v, f, prior_cameras()[:2], 48, colors=colors)
    (out.mask.sum() + out.normals.sum() + out.depth.sum() + out.rgb.sum()).backward()
    assert v.grad is not None and torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0
    assert colors.grad is not None and colors.grad.sum() > 0
    # Vertices on the far side of the sphere from both cameras get no colour gradient.
    facing = v.detach() @ prior_cameras().positions[:2].T
    assert colors.grad[(facing < -0.1).all(dim=1)].abs().max() == 0
