import pytest
import torch

from latentdreamer.render.rasterize import rasterize
from latentdreamer.render.rasterize.interpolate import interpolate_torch
from latentdreamer.render.rasterize.numba_interpolate import interpolate_numba


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("per_view", [False, True])
def test_values_and_gradients_match_the_torch_reference(scene, dtype, per_view):
    pos, tri = scene
    rast = rasterize(pos.to(dtype), tri, (40, 56))
    gen = torch.Generator().manual_seed(6)
    attr = torch.randn(len(pos) if per_view else 1, pos.shape[1], 3, dtype=dtype, generator=gen)
    if not per_view:
        attr = attr[0]
    weights = torch.randn(*rast.shape[:3], 3, dtype=dtype, generator=gen)
    results = []
    for fn in (interpolate_numba, interpolate_torch):
        a, r = attr.clone().requires_grad_(True), rast.clone().requires_grad_(True)
        out = fn(a, r, tri)
        (out * weights).sum().backward()
        results.append((out.detach(), a.grad, r.grad))
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for fast, ref in zip(*results, strict=True):
        assert fast.dtype == ref.dtype and ref.abs().max() > 0
        torch.testing.assert_close(fast, ref, atol=tol * ref.abs().max(), rtol=tol)
    assert (results[0][2][..., 2:] == 0).all()


def test_attributes_broadcast_from_a_single_view():
    pos, tri = torch.rand(3, 6, 4, dtype=torch.float64) * 0.5, torch.tensor([[0, 1, 2], [3, 4, 5]], dtype=torch.int32)
    pos[..., 3] = 1.0
    rast = rasterize(pos, tri, (12, 12))
    attr = torch.randn(1, 6, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: interpolate_numba(a, rast, tri), (attr,))
