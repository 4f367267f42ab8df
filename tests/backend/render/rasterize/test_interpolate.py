import torch

from latentdreamer.render.rasterize import interpolate, rasterize


def _small_scene() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    xyz = (torch.rand(2, 9, 3, generator=gen, dtype=torch.float64) - 0.5) * 1.6
    pos = torch.cat([xyz, 1.0 + 0.3 * torch.rand(2, 9, 1, generator=gen, dtype=torch.float64)], -1)
    return pos, torch.arange(9, dtype=torch.int32).view(3, 3)


def test_batched_and_shared_attributes_agree_and_empty_pixels_are_zero():
    pos, tri = _small_scene()
    rast = rasterize(pos, tri, (16, 16))
    attr = torch.randn(9, 5, dtype=torch.float64)
    shared = interpolate(attr, rast, tri)
    batched = interpolate(attr.expand(2, 9, 5), rast, tri)
    assert shared.shape == (2, 16, 16, 5)
    torch.testing.assert_close(shared, batched)
    assert (shared[rast[..., 3] == 0] == 0).all()
    assert (shared[rast[..., 3] > 0] != 0).any()


def test_position_gradients_match_finite_differences():
    pos, tri = _small_scene()
    attr = torch.randn(9, 2, dtype=torch.float64)
    weights = torch.randn(2, 16, 16, 2, dtype=torch.float64)
    ids = rasterize(pos, tri, (16, 16))[..., 3]

    def loss(p: torch.Tensor) -> torch.Tensor:
        rast = rasterize(p, tri, (16, 16))
        assert torch.equal(rast[..., 3], ids), "perturbation changed coverage; pick another scene"
        return (interpolate(attr, rast, tri) * weights).sum()

    p = pos.clone().requires_grad_(True)
    loss(p).backward()
    assert p.grad.abs().sum() > 0
    assert torch.autograd.gradcheck(loss, (pos.clone().requires_grad_(True),), eps=1e-6, atol=1e-6)


def test_attribute_gradients_flow():
    pos, tri = _small_scene()
    attr = torch.randn(2, 9, 3, dtype=torch.float64, requires_grad=True)
    rast = rasterize(pos, tri, (12, 12))
    assert torch.autograd.gradcheck(lambda a: interpolate(a, rast, tri), (attr,))
