import numpy as np
import pytest
import torch

from latentdreamer.geometry.flexicubes import deviation_loss, flexicubes, sdf_sign_loss, weight_l2
from latentdreamer.geometry.grid import grid_points


def points(n: int) -> torch.Tensor:
    return torch.from_numpy(grid_points(n)).double()


def sphere(n: int, radius: float = 0.37) -> torch.Tensor:
    return points(n).norm(dim=-1) - radius


def test_default_dual_vertex_is_the_mean_of_its_crossings_which_lie_on_the_surface():
    sdf = sphere(13)
    mesh = flexicubes(sdf)
    for v in range(len(mesh.vertices)):
        assert torch.allclose(mesh.vertices[v], mesh.crossings[mesh.crossing_vertex == v].mean(0))
    # every interior sign-changing grid edge is seen by its four cubes
    assert len(mesh.crossings) == 4 * len(mesh.edge_sdf)
    assert torch.allclose(mesh.crossings.norm(dim=1), torch.full((len(mesh.crossings),), 0.37, dtype=torch.float64), atol=0.01)


def box(n: int) -> torch.Tensor:
    return points(n).abs().amax(-1) - 0.3


def test_deviation_is_zero_when_every_vertex_is_equidistant_from_its_crossings():
    # A centred box crosses every cube's edges at the same fraction: its crossings form
    # squares, rectangles and corner triangles whose centroids are equidistant.
    assert deviation_loss(flexicubes(box(12))) < 1e-12


def test_deviation_matches_a_direct_computation_and_reaches_beta():
    n = 11
    beta_raw = torch.randn((n - 1) ** 3, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    beta_raw.requires_grad_(True)
    mesh = flexicubes(sphere(n), beta_raw=beta_raw)
    loss = deviation_loss(mesh)
    deviations = []
    for v in range(len(mesh.vertices)):
        d = (mesh.crossings[mesh.crossing_vertex == v] - mesh.vertices[v]).norm(dim=1).detach().numpy()
        deviations.extend(np.abs(d - d.mean()))
    assert loss.item() == pytest.approx(np.mean(deviations), rel=1e-12)
    assert loss.item() > 1e-4
    (grad,) = torch.autograd.grad(loss, beta_raw)
    assert grad.abs().max() > 0


def test_sign_loss_counts_every_sign_changing_grid_edge_once():
    gen = torch.Generator().manual_seed(1)
    sdf = sphere(10) + 0.1 * torch.randn(10, 10, 10, dtype=torch.float64, generator=gen)  # floaters and holes
    sdf.requires_grad_(True)
    loss = sdf_sign_loss(flexicubes(sdf))
    s = sdf.detach().numpy()
    terms = []
    for axis in range(3):
        a = np.moveaxis(s, axis, 0)[:-1].ravel()
        b = np.moveaxis(s, axis, 0)[1:].ravel()
        change = (a < 0) != (b < 0)
        a, b = a[change], b[change]
        terms.append((a, b))
    a = np.concatenate([t[0] for t in terms])
    b = np.concatenate([t[1] for t in terms])

    def bce(logit, target):
        return np.maximum(logit, 0) - logit * target + np.log1p(np.exp(-np.abs(logit)))

    expected = bce(a, b >= 0).mean() + bce(b, a >= 0).mean()
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    (grad,) = torch.autograd.grad(loss, sdf)
    inside_touched = (grad < 0) & (sdf < 0)  # descent raises inside values toward zero
    outside_touched = (grad > 0) & (sdf >= 0)  # and lowers outside values toward zero
    assert ((grad != 0) == (inside_touched | outside_touched)).all()
    assert (grad != 0).sum() > 0


def test_sign_loss_sees_edges_on_the_far_faces_of_the_grid():
    sdf = sphere(8, radius=0.6)  # negative inside, positive in the grid corners, crossing the outer faces
    mesh = flexicubes(sdf)
    s = sdf.numpy()
    count = sum(int(((np.moveaxis(s, ax, 0)[:-1] < 0) != (np.moveaxis(s, ax, 0)[1:] < 0)).sum()) for ax in range(3))
    assert len(mesh.edge_sdf) == count


def test_weight_l2():
    a, b = torch.full((8, 8), 2.0), torch.full((8, 12), 1.0)
    assert weight_l2(a, b).item() == pytest.approx(5.0)
    assert weight_l2(None, b).item() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        weight_l2(None)
