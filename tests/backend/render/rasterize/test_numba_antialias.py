import pytest
import torch

from latentdreamer.render.rasterize import interpolate, rasterize
from latentdreamer.render.rasterize.antialias import antialias_torch, silhouette_edges, silhouette_edges_torch
from latentdreamer.render.rasterize.numba_antialias import antialias_numba


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_silhouettes_match_the_torch_reference(scene, dtype):
    pos, tri = scene
    fast, ref = silhouette_edges(pos.to(dtype), tri), silhouette_edges_torch(pos.to(dtype), tri)
    assert ref.any() and not ref.all()
    assert torch.equal(fast, ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_and_gradients_match_the_torch_reference(scene, dtype):
    pos, tri = scene
    pos = pos.to(dtype)
    rast = rasterize(pos, tri, (40, 56))
    gen = torch.Generator().manual_seed(7)
    color = interpolate(torch.rand(pos.shape[1], 3, dtype=dtype, generator=gen), rast, tri)
    weights = torch.randn(*color.shape, dtype=dtype, generator=gen)
    results = []
    for fn in (
        lambda c, p: antialias_numba(c, rast, p, tri, silhouette_edges(p, tri)),
        lambda c, p: antialias_torch(c, rast, p, tri),
    ):
        c, p = color.clone().requires_grad_(True), pos.clone().requires_grad_(True)
        out = fn(c, p)
        (out * weights).sum().backward()
        results.append((out.detach(), c.grad, p.grad))
    (out, grad_color, grad_pos), (ref_out, ref_color, ref_pos) = results
    assert not torch.equal(ref_out, color) and ref_pos.abs().max() > 0
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(out, ref_out, atol=tol, rtol=tol)
    torch.testing.assert_close(grad_color, ref_color, atol=tol, rtol=tol)
    torch.testing.assert_close(grad_pos, ref_pos, atol=tol * ref_pos.abs().max(), rtol=tol)
