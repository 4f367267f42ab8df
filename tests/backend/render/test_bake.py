"""The UV bake on small synthetic scenes: view weighting, visibility, the colour-grid fill and
seam dilation, with colours chosen so each contribution can be told apart."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latentdreamer.geometry.subdivision import loop_subdivision
from latentdreamer.geometry.uv_unwrap import split_seams, subdivide_corner_uvs, unwrap
from latentdreamer.render.bake.bake import FILL_WEIGHT, bake_texture
from latentdreamer.render.bake.push_pull import push_pull
from latentdreamer.render.cameras import orbit_cameras
from latentdreamer.render.textured import render_textured
from latentdreamer.render.views import render_views

RED, BLUE, GREEN = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0)


def square(y: float = 0.0, half: float = 0.3, x0: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """A square in the plane y = const facing -Y (the input camera), UVs spanning [0.1, 0.9]^2."""
    v = torch.tensor([[x0 - half, y, -half], [x0 + half, y, -half], [x0 + half, y, half], [x0 - half, y, half]])
    f = torch.tensor([[0, 1, 2], [0, 2, 3]])
    uv_of = np.array([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]], np.float32)
    return v, f, uv_of[f.numpy()]


def flat_views(colours: list[tuple[float, float, float]], size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    rgb = torch.tensor(colours, dtype=torch.float32)[:, None, None, :].expand(-1, size, size, 3).contiguous()
    return rgb, torch.ones(len(colours), size, size, 1)


def centre_texel(image: np.ndarray) -> np.ndarray:
    h, w, _ = image.shape
    return image[h // 2, w // 2]


def test_each_view_counts_by_cos_power_and_the_grid_fills_the_rest():
    v, f, uvs = square()
    cameras = orbit_cameras([0.0, 70.0], [0.0, 0.0])  # square-on, and 70 degrees off
    rgb, mask = flat_views([RED, BLUE])
    fill = lambda p: torch.tensor(GREEN).expand(len(p), 3)  # noqa: E731
    for k in (2.0, 0.0):
        baked = bake_texture(v, f, rgb, mask, cameras, 32, k, fill, corner_uvs=uvs)
        w_red, w_blue = 1.0, math.cos(math.radians(70)) ** k
        expected = w_red * np.array(RED) + w_blue * np.array(BLUE) + FILL_WEIGHT * np.array(GREEN)
        expected /= w_red + w_blue + FILL_WEIGHT
        # the square is small next to the camera distance: cos theta varies by a few per cent
        np.testing.assert_allclose(centre_texel(baked.image), expected, atol=0.02)
        assert baked.coverage == 1.0


def test_a_point_no_view_sees_takes_the_colour_grid():
    v, f, uvs = square()
    cameras = orbit_cameras([180.0], [0.0])  # behind the square: it faces away
    rgb, mask = flat_views([RED])
    baked = bake_texture(v, f, rgb, mask, cameras, 32, 2.0, lambda p: torch.tensor(GREEN).expand(len(p), 3), corner_uvs=uvs)
    np.testing.assert_allclose(baked.image.reshape(-1, 3), np.tile(GREEN, (32 * 32, 1)), atol=1e-5)
    assert baked.coverage == 0.0


def test_an_occluded_point_does_not_take_the_occluders_colour():
    back_v, back_f, back_uv = square(y=0.1)
    front_v, front_f, front_uv = square(y=-0.2, half=0.15, x0=-0.15)  # hides the back square's left part
    v = torch.cat([back_v, front_v])
    f = torch.cat([back_f, front_f + 4])
    uvs = np.concatenate([back_uv * 0.5, front_uv * 0.5 + 0.5])  # back in the lower left quarter of the atlas
    cameras = orbit_cameras([0.0], [0.0])
    colours = torch.tensor([BLUE] * 4 + [RED] * 4)
    view = render_views(v, f, cameras, 96, colors=colours)
    baked = bake_texture(
        v, f, view.rgb, view.mask, cameras, 64, 2.0, lambda p: torch.tensor(GREEN).expand(len(p), 3), corner_uvs=uvs
    )
    image = baked.image[::-1]  # rows from v = 0 up, to index with UVs directly
    hidden = image[int(0.5 * 0.5 * 64), int(0.3 * 0.5 * 64)]  # back square, under the front one
    visible = image[int(0.5 * 0.5 * 64), int(0.8 * 0.5 * 64)]  # back square, right part
    np.testing.assert_allclose(hidden, GREEN, atol=0.05)
    np.testing.assert_allclose(visible, BLUE, atol=0.05)


def test_push_pull_fills_every_empty_texel_from_the_nearest_filled_ones():
    image = torch.zeros(16, 16, 3)
    filled = torch.zeros(16, 16, dtype=torch.bool)
    image[2, 2], filled[2, 2] = torch.tensor(RED), True
    image[13, 13], filled[13, 13] = torch.tensor(BLUE), True
    out = push_pull(image, filled)
    assert torch.equal(out[filled], image[filled])  # filled texels keep their values exactly
    assert out[0, 0, 0] > 0.8 and out[15, 15, 2] > 0.8  # each corner takes its nearest colour
    assert (out.sum(-1) > 0.9).all()  # nothing left black
    assert torch.equal(push_pull(image, torch.zeros_like(filled)), image)


def test_baked_seams_are_dilated_so_a_render_shows_no_dark_edges():
    import trimesh

    sphere = trimesh.creation.icosphere(3, radius=0.4)
    v = torch.tensor(sphere.vertices, dtype=torch.float32)
    f = torch.tensor(sphere.faces)
    cameras = orbit_cameras([30.0, 90, 150, 210, 270, 330], [20.0, -10, 20, -10, 20, -10])
    view = render_views(v, f, cameras, 96, colors=torch.full((len(v), 3), 0.8))
    baked = bake_texture(v, f, view.rgb, view.mask, cameras, 128, 2.0, lambda p: torch.full((len(p), 3), 0.8))
    assert baked.image.min() > 0.6  # texels between the charts are filled too, not black
    again = render_textured(v, f, torch.from_numpy(baked.corner_uvs), torch.from_numpy(baked.image), cameras, 96)
    inside = view.mask[..., 0] > 0.99
    assert (again[inside] - 0.8).abs().max() < 0.05  # seams included: every covered pixel is the colour


def test_unwrap_gives_corner_uvs_in_the_unit_square_and_split_seams_round_trips():
    import trimesh

    sphere = trimesh.creation.icosphere(2)
    uvs = unwrap(sphere.vertices, sphere.faces, 256)
    assert uvs.shape == (len(sphere.faces), 3, 2) and uvs.min() >= 0 and uvs.max() <= 1
    source, faces, per_vertex = split_seams(sphere.faces, uvs)
    np.testing.assert_array_equal(source[faces], sphere.faces)
    np.testing.assert_allclose(per_vertex[faces], uvs)
    assert len(sphere.vertices) < len(source) < 3 * len(sphere.faces)  # only seam vertices are copied


def test_subdivided_uvs_follow_loop_subdivisions_face_order():
    # Two separate triangles: every edge is a boundary edge, whose new vertex sits exactly at
    # the midpoint, so with uv = (x, y) every new corner's UV must equal its vertex's (x, y).
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0], [3, 0, 0], [2, 1, 0]], np.float32)
    f = np.array([[0, 1, 2], [3, 4, 5]])
    sub = loop_subdivision(f, len(v))
    fine_v = sub(torch.from_numpy(v)).numpy()
    fine_uv = subdivide_corner_uvs(v[f][..., :2])
    fine_f = sub.faces.numpy()
    assert fine_uv.shape == (len(fine_f), 3, 2)
    new = fine_f >= len(v)
    np.testing.assert_allclose(fine_uv[new], fine_v[fine_f][new][:, :2], atol=1e-6)
    np.testing.assert_allclose(fine_uv[~new], v[fine_f[~new]][:, :2], atol=1e-6)  # old corners keep theirs


@pytest.mark.parametrize("bad", ["cylinder"])
def test_unwrap_refuses_an_empty_mesh(bad):
    with pytest.raises(ValueError, match="without faces"):
        unwrap(np.zeros((3, 3)), np.zeros((0, 3), np.int64), 64)
