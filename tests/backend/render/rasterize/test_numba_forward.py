import numpy as np
import pytest
import torch

from latentdreamer.render.rasterize.numba_forward import triangle_ids_numba
from latentdreamer.render.rasterize.torch_forward import triangle_ids_torch

FORWARDS = [triangle_ids_numba, triangle_ids_torch]


def _inside(px: np.ndarray, py: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Signed distance-like margin of pixel centres from a CCW or CW 2-D triangle (>0 inside)."""
    margins = []
    for j, k in ((1, 2), (2, 0), (0, 1)):
        (xj, yj), (xk, yk) = xy[j], xy[k]
        margins.append(((xk - xj) * (py - yj) - (yk - yj) * (px - xj)) / np.hypot(xk - xj, yk - yj))
    m = np.stack(margins)
    area = (xy[1, 0] - xy[0, 0]) * (xy[2, 1] - xy[0, 1]) - (xy[2, 0] - xy[0, 0]) * (xy[1, 1] - xy[0, 1])
    return (m * np.sign(area)).min(0)


@pytest.mark.parametrize("forward", FORWARDS)
@pytest.mark.parametrize("flip", [False, True])
def test_single_triangle_covers_the_analytic_pixel_set(forward, flip):
    h, w = 24, 32
    xy = np.array([[-0.71, -0.63], [0.83, -0.29], [-0.17, 0.77]])
    if flip:  # clockwise on screen: no backface culling
        xy = xy[[0, 2, 1]]
    wc = np.array([1.0, 2.0, 0.5])  # varying w: coverage is decided in NDC
    pos = torch.tensor(np.concatenate([xy * wc[:, None], np.zeros((3, 1)), wc[:, None]], 1), dtype=torch.float64)
    ids = forward(pos[None], torch.tensor([[0, 1, 2]], dtype=torch.int32), (h, w))
    px = ((np.arange(w) + 0.5) / w * 2 - 1)[None, :].repeat(h, 0)
    py = ((np.arange(h) + 0.5) / h * 2 - 1)[:, None].repeat(w, 1)  # row 0 at the bottom
    margin = _inside(px, py, xy)
    assert np.abs(margin).min() > 1e-6, "test triangle must not pass through a pixel centre"
    np.testing.assert_array_equal(ids[0].numpy() == 0, margin > 0)
    assert (margin > 0).sum() > 100


@pytest.mark.parametrize("forward", FORWARDS)
def test_nearest_depth_wins_and_ties_go_to_the_lower_id(forward):
    # Two full-screen-ish triangles: the nearer one (smaller z/w) wins whatever its index.
    base = torch.tensor([[-3.0, -3.0, 0.0, 1.0], [3.0, -3.0, 0.0, 1.0], [0.0, 3.0, 0.0, 1.0]], dtype=torch.float64)
    near, far = base.clone(), base.clone()
    near[:, 2], far[:, 2] = -0.2, 0.3
    tri = torch.tensor([[0, 1, 2], [3, 4, 5]], dtype=torch.int32)
    for first, second, winner in ((far, near, 1), (near, far, 0)):
        ids = forward(torch.cat([first, second])[None], tri, (8, 8))
        assert (ids == winner).all()
    tilted = base.clone()
    tilted[:, 2] = torch.tensor([-0.5, 0.5, 0.0])  # crosses the flat one: each wins where nearer
    ids = forward(torch.cat([base, tilted])[None], tri, (16, 16))[0]
    xs = ((torch.arange(16) + 0.5) / 16 * 2 - 1).expand(16, 16)
    assert (ids[:, :8] == 1).all() and (ids[:, 8:] == 0).all() and (xs[:, 8:] > 0).all()
    ids = forward(torch.cat([base, base])[None], tri, (8, 8))  # exact tie
    assert (ids == 0).all()


@pytest.mark.parametrize("forward", FORWARDS)
def test_culling_behind_the_eye_and_per_pixel_near_far(forward):
    tri = torch.tensor([[0, 1, 2]], dtype=torch.int32)
    behind = torch.tensor([[[-0.5, -0.5, 0.0, 1.0], [0.5, -0.5, 0.0, 1.0], [0.0, 0.5, 0.0, -0.1]]], dtype=torch.float64)
    assert (forward(behind, tri, (8, 8)) == -1).all()
    # z/w goes from -1.5 (left) to 1.5 (right): only the middle third of columns is kept.
    slab = torch.tensor([[[-3.0, -3.0, -4.5, 1.0], [3.0, -3.0, 4.5, 1.0], [-3.0, 3.0, -4.5, 1.0]]], dtype=torch.float64)
    ids = forward(slab, tri, (4, 12))[0]
    xs = (torch.arange(12) + 0.5) / 12 * 2 - 1
    keep = (1.5 * xs).abs() <= 1.0
    row = ids[0] == 0
    assert torch.equal(row, keep)


def test_numba_and_torch_buffers_are_identical(scene):
    pos, tri = scene
    for resolution in ((64, 48), (97, 131)):
        a = triangle_ids_numba(pos, tri, resolution)
        b = triangle_ids_torch(pos, tri, resolution)
        assert (a >= 0).float().mean() > 0.2
        assert torch.equal(a, b)


@pytest.mark.parametrize("forward", FORWARDS)
def test_closed_mesh_has_no_cracks(forward):
    import trimesh

    from latentdreamer.render.cameras import prior_cameras, to_clip

    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.45)
    pos = to_clip(torch.tensor(sphere.vertices, dtype=torch.float32), prior_cameras())
    ids = forward(pos, torch.tensor(sphere.faces, dtype=torch.int32), (96, 96))
    covered = ids >= 0
    inner = covered[:, :-2, 1:-1] & covered[:, 2:, 1:-1] & covered[:, 1:-1, :-2] & covered[:, 1:-1, 2:]
    assert inner.sum() > 1000
    assert covered[:, 1:-1, 1:-1][inner].all()
