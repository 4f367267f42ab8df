"""PointLookup reads a grid exactly as sample_grid does, forward and backward."""

import pytest
import torch

from latentdreamer.geometry.grid import HALF_EXTENT, PointLookup, grid_points_tensor, sample_grid


def _points(count: int, seed: int) -> torch.Tensor:
    """Points inside the box, on its faces and corners, and beyond it (border padding)."""
    g = torch.Generator().manual_seed(seed)
    inside = (torch.rand(count, 3, generator=g) * 2 - 1) * HALF_EXTENT
    edges = torch.tensor([[HALF_EXTENT] * 3, [-HALF_EXTENT] * 3, [HALF_EXTENT, -HALF_EXTENT, 0.0]])
    beyond = torch.tensor([[1.3 * HALF_EXTENT, 0.1, -0.2], [0.0, -2.0 * HALF_EXTENT, 0.3]])
    return torch.cat([inside, edges, beyond])


@pytest.mark.parametrize("n", [2, 5, 16])
def test_values_and_gradients_match_sample_grid(n):
    points = _points(300, seed=n)
    volume = torch.randn(1, 4, n, n, n, dtype=torch.float64, requires_grad=True)
    lookup = PointLookup.at(points.double(), n)
    weights = torch.randn(1, len(points), 4, dtype=torch.float64)

    expected = sample_grid(volume, points[None].double())
    (grad_expected,) = torch.autograd.grad((expected * weights).sum(), volume)
    got = lookup(volume)
    (grad_got,) = torch.autograd.grad((got * weights).sum(), volume)

    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(grad_got, grad_expected, atol=1e-12, rtol=0)


def test_grid_points_read_their_own_values():
    n = 7
    volume = torch.randn(1, 3, n, n, n)
    got = PointLookup.at(grid_points_tensor(n), n)(volume)
    torch.testing.assert_close(got[0], volume.reshape(3, -1).T, atol=1e-6, rtol=0)


def test_rows_is_the_lookup_of_those_points():
    n = 9
    points = _points(100, seed=1)
    volume = torch.randn(1, 2, n, n, n)
    index = torch.tensor([0, 5, 17, 99, 101])
    whole = PointLookup.at(points, n)
    sub = whole.rows(index)
    assert len(sub) == len(index)
    torch.testing.assert_close(sub(volume), whole(volume)[:, index])
    torch.testing.assert_close(sub(volume), PointLookup.at(points[index], n)(volume))


def test_a_grid_of_another_size_is_refused():
    lookup = PointLookup.at(_points(10, seed=2), 8)
    with pytest.raises(ValueError, match="8\\^3"):
        lookup(torch.zeros(1, 2, 6, 6, 6))
