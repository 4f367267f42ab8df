import pytest
import torch

from latentdreamer.render.rasterize import antialias, interpolate, rasterize
from latentdreamer.render.rasterize.antialias import silhouette_edges


@pytest.mark.parametrize("edge_px", [5.2, 5.8, 6.45])
def test_vertical_silhouette_blends_by_box_filter_coverage(edge_px):
    h, w = 6, 12
    edge = (edge_px + 0.5) / w * 2 - 1  # NDC x of an edge sitting edge_px pixels from pixel 0's centre
    pos = torch.tensor([[[-3.0, -3.0, 0.0, 1.0], [edge, -3.0, 0.0, 1.0], [edge, 3.0, 0.0, 1.0]]], dtype=torch.float64)
    pos = torch.cat([pos, torch.tensor([[[-3.0, 3.0, 0.0, 1.0]]], dtype=torch.float64)], 1)
    tri = torch.tensor([[0, 1, 2], [0, 2, 3]], dtype=torch.int32)  # a quad: its shared diagonal is not a silhouette
    rast = rasterize(pos, tri, (h, w))
    color = (rast[..., 3:] > 0).to(torch.float64)
    out = antialias(color, rast, pos, tri)[0, 2:4, :, 0]
    i, t = int(edge_px), edge_px - int(edge_px)
    expected = torch.zeros(w, dtype=torch.float64)
    expected[:i] = 1.0
    expected[i] = 1.0 if t > 0.5 else 0.5 + t
    if t > 0.5:
        expected[i + 1] = t - 0.5
    torch.testing.assert_close(out, expected.expand(2, w), atol=1e-9, rtol=0)


def test_silhouette_edges_of_a_closed_mesh_separate_front_from_back():
    import trimesh

    from latentdreamer.render.cameras import prior_cameras, to_clip

    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.4)
    pos = to_clip(torch.tensor(sphere.vertices, dtype=torch.float32), prior_cameras())
    sil = silhouette_edges(pos, torch.tensor(sphere.faces))
    # A convex closed mesh: a ring of edges, far fewer than all, in every view, each shared by 2 faces.
    counts = sil.sum((1, 2))
    assert (counts > 0).all() and (counts < 0.2 * sil[0].numel()).all()
    open_sil = silhouette_edges(pos, torch.tensor(sphere.faces[:10]))
    assert open_sil[:, 0].any()


def _silhouette_scene() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    xyz = (torch.rand(2, 9, 3, generator=gen, dtype=torch.float64) - 0.5) * 1.5
    pos = torch.cat([xyz, 1.0 + 0.2 * torch.rand(2, 9, 1, generator=gen, dtype=torch.float64)], -1)
    return pos, torch.arange(9, dtype=torch.int32).view(3, 3)


def test_mask_gradients_come_from_antialias_and_match_finite_differences():
    pos, tri = _silhouette_scene()
    res = (14, 14)
    colors = torch.tensor([[1.0, 0.2], [0.3, 0.9], [0.6, 0.5]], dtype=torch.float64).repeat_interleave(3, 0)
    weights = torch.randn(2, *res, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ids = rasterize(pos, tri, res)[..., 3]

    def image(p: torch.Tensor, flat_colour: bool) -> torch.Tensor:
        rast = rasterize(p, tri, res)
        assert torch.equal(rast[..., 3], ids), "perturbation changed coverage; pick another scene"
        attr = colors if flat_colour else colors + p[0, :, :2]
        return antialias(interpolate(attr, rast, tri), rast, p, tri)

    p = pos.clone().requires_grad_(True)
    # Per-triangle constant colours: interpolation gives no position gradient, antialias must.
    (image(p, True) * weights).sum().backward()
    assert p.grad.abs().sum() > 0
    rast = rasterize(pos, tri, res)
    assert not torch.equal(antialias(interpolate(colors, rast, tri), rast, pos, tri), interpolate(colors, rast, tri))
    for flat_colour in (True, False):
        fn = lambda q: (image(q, flat_colour) * weights).sum()  # noqa: E731
        assert torch.autograd.gradcheck(fn, (pos.clone().requires_grad_(True),), eps=1e-7, atol=1e-5)
