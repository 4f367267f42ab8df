import pytest
import torch

from latentdreamer.render.rasterize import choose_backend, rasterize
from latentdreamer.render.rasterize.nvdiffrast_backend import nvdiffrast_available


@pytest.mark.parametrize(
    ("requested", "device", "available", "expected"),
    [
        ("auto", "cpu", False, "numba"),
        ("auto", "cpu", True, "numba"),
        ("auto", "cuda", True, "nvdiffrast"),
        ("auto", "cuda", False, "torch"),
        ("auto", "mps", True, "torch"),
        ("torch", "cuda", True, "torch"),
        ("numba", "cuda", True, "numba"),
        ("nvdiffrast", "cuda:1", True, "nvdiffrast"),
    ],
)
def test_choose_backend(requested, device, available, expected):
    assert choose_backend(requested, device, available) == expected


def test_unusable_requests_fail_loudly():
    with pytest.raises(ImportError):
        choose_backend("nvdiffrast", "cuda", False)
    with pytest.raises(ValueError):
        choose_backend("nvdiffrast", "cpu", True)
    with pytest.raises(ValueError):
        choose_backend("opengl", "cpu", True)


def test_rasterize_validates_shapes_and_runs_every_cpu_backend():
    pos = torch.tensor([[[-0.5, -0.5, 0.0, 1.0], [0.5, -0.5, 0.0, 1.0], [0.0, 0.5, 0.0, 1.0]]])
    tri = torch.tensor([[0, 1, 2]], dtype=torch.int32)
    with pytest.raises(ValueError):
        rasterize(pos[0], tri, (8, 8))
    outs = [rasterize(pos, tri, (8, 8), backend=b) for b in ("auto", "numba", "torch")]
    assert all(torch.equal(outs[0], o) for o in outs[1:])
    assert isinstance(nvdiffrast_available(), bool)
