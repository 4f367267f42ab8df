import pytest
import torch

from latentdreamer.render.rasterize.barycentrics import rast_from_ids
from latentdreamer.render.rasterize.numba_barycentrics import rasterize_numba
from latentdreamer.render.rasterize.numba_forward import triangle_ids_numba


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_buffer_and_gradients_match_the_torch_rebuild(scene, dtype):
    pos, tri = scene
    pos = pos.to(dtype)
    res = (40, 56)
    ids = triangle_ids_numba(pos, tri, res)
    assert (ids >= 0).float().mean() > 0.2
    weights = torch.randn(len(pos), *res, 4, dtype=dtype, generator=torch.Generator().manual_seed(2))
    grads = []
    for build in (lambda p: rasterize_numba(p, tri, res), lambda p: rast_from_ids(p, tri, ids)):
        p = pos.clone().requires_grad_(True)
        rast = build(p)
        (rast * weights).sum().backward()
        grads.append((rast.detach(), p.grad))
    (fast, fast_grad), (ref, ref_grad) = grads
    assert fast.dtype == dtype and torch.equal(fast[..., 3], ref[..., 3])
    tol = 1e-9 if dtype == torch.float64 else 2e-4
    torch.testing.assert_close(fast, ref, atol=tol, rtol=tol)
    assert ref_grad.abs().max() > 1
    torch.testing.assert_close(fast_grad, ref_grad, atol=tol * ref_grad.abs().max(), rtol=tol)


def test_gradcheck_in_float64():
    gen = torch.Generator().manual_seed(3)
    xyz = (torch.rand(2, 9, 3, generator=gen, dtype=torch.float64) - 0.5) * 1.6
    pos = torch.cat([xyz, 1.0 + 0.3 * torch.rand(2, 9, 1, generator=gen, dtype=torch.float64)], -1)
    tri = torch.arange(9, dtype=torch.int32).view(3, 3)
    ids = rasterize_numba(pos, tri, (16, 16))[..., 3]
    assert (ids > 0).sum() > 40

    def uvz(p: torch.Tensor) -> torch.Tensor:
        rast = rasterize_numba(p, tri, (16, 16))
        assert torch.equal(rast[..., 3], ids), "perturbation changed coverage; pick another scene"
        return rast[..., :3]

    assert torch.autograd.gradcheck(uvz, (pos.requires_grad_(True),), eps=1e-6, atol=1e-6)
