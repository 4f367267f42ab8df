import numpy as np
import pytest
import torch

from latentdreamer.render.rasterize import interpolate, rasterize


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_barycentrics_are_perspective_correct_and_follow_nvdiffrast_vertex_order(backend):
    pos = torch.tensor([[[-0.9, -0.8, 0.1, 1.0], [1.6, -1.2, 0.9, 2.0], [-0.1, 0.45, 0.2, 0.5]]], dtype=torch.float64)
    h, w = 20, 24
    rast = rasterize(pos, torch.tensor([[0, 1, 2]], dtype=torch.int32), (h, w), backend=backend)[0]
    covered = rast[..., 3] == 1
    assert covered.sum() > 50 and torch.equal(covered, rast[..., 3] != 0)
    assert (rast[~covered] == 0).all()
    ys, xs = torch.nonzero(covered, as_tuple=True)
    q = pos[0].numpy()
    for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
        px, py = (x + 0.5) / w * 2 - 1, (y + 0.5) / h * 2 - 1
        # Perspective-correct barycentrics by definition: sum b_i (X_i, Y_i) = p * sum b_i W_i, sum b_i = 1.
        m = np.stack([q[:, 0] - px * q[:, 3], q[:, 1] - py * q[:, 3], np.ones(3)])
        b = np.linalg.solve(m, [0.0, 0.0, 1.0])
        u, v, zw = rast[y, x, :3].tolist()
        np.testing.assert_allclose([u, v], b[:2], atol=1e-9)
        np.testing.assert_allclose(zw, (b @ q[:, 2]) / (b @ q[:, 3]), atol=1e-9)


def test_interpolated_clip_positions_reproduce_pixel_centres(scene):
    pos, tri = scene
    h, w = 40, 56
    rast = rasterize(pos.double(), tri, (h, w))
    clip = interpolate(pos.double(), rast, tri)  # (B, V, 4) attributes: perspective-correct
    covered = rast[..., 3] > 0
    ndc = clip[..., :2] / clip[..., 3:]
    px = ((torch.arange(w, dtype=torch.float64) + 0.5) / w * 2 - 1).expand(h, w)
    py = ((torch.arange(h, dtype=torch.float64) + 0.5) / h * 2 - 1).unsqueeze(1).expand(h, w)
    assert covered.sum() > 1000
    torch.testing.assert_close(ndc[..., 0][covered], px.expand_as(covered)[covered], atol=1e-9, rtol=0)
    torch.testing.assert_close(ndc[..., 1][covered], py.expand_as(covered)[covered], atol=1e-9, rtol=0)
    torch.testing.assert_close((clip[..., 2] / clip[..., 3])[covered], rast[..., 2][covered], atol=1e-9, rtol=0)
