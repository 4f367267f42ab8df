"""The one definition of where an SDF grid lives in the object frame.

Every SDF grid in the project is an (n, n, n) array of samples at the vertices of a
regular lattice spanning [-HALF_EXTENT, HALF_EXTENT]^3, indexed [i, j, k] <-> (x, y, z).
Flattened in C order, sample (i, j, k) has index i*n^2 + j*n + k, which is exactly the
FlexiCubes vertex numbering for a grid of n - 1 cubes per axis. Objects are normalised
into the sphere of radius 0.5 (docs/design.md §4), so the outer shell of samples is always
outside the object and FlexiCubes never leaves a hole on the boundary.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

HALF_EXTENT: float = 0.55
"""Half side of the cube the grid covers; 10 % margin outside the radius-0.5 sphere."""

OBJECT_RADIUS: float = 0.5
"""Radius of the sphere every object is normalised into (Zero123++ v1.2's framing)."""


def grid_coordinates(n: int) -> np.ndarray:
    """Sample positions along one axis, shared by all three axes."""
    if n < 2:
        raise ValueError(f"an SDF grid needs at least 2 samples per axis, got {n}")
    return np.linspace(-HALF_EXTENT, HALF_EXTENT, n, dtype=np.float32)


def grid_points(n: int) -> np.ndarray:
    """All sample positions as an (n, n, n, 3) float32 array in [i, j, k] order."""
    c = grid_coordinates(n)
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1)


def voxel_size(n: int) -> float:
    """Distance between neighbouring samples; SDF values are in the same units (metres)."""
    return 2.0 * HALF_EXTENT / (n - 1)


def world_to_index(points: np.ndarray, n: int) -> np.ndarray:
    """Continuous grid index of object-frame points, for trilinear lookups."""
    return (np.asarray(points, dtype=np.float64) + HALF_EXTENT) / voxel_size(n)


def sample_grid(volume: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup of a (B,C,n,n,n) grid laid out as in geometry/grid.py at (B,N,3) points.

    grid_sample orders its coordinates (W,H,D) = (k,j,i) = (z,y,x), and our samples sit on
    the cube's corners, hence the flip and align_corners=True. Returns (B,N,C).
    """
    g = (points[..., [2, 1, 0]] / HALF_EXTENT).reshape(points.shape[0], -1, 1, 1, 3)
    out = F.grid_sample(volume, g.to(volume.dtype), mode="bilinear", padding_mode="border", align_corners=True)
    return out.reshape(volume.shape[0], volume.shape[1], -1).transpose(1, 2)


def grid_points_tensor(n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(n^3, 3) vertex positions of an n^3 SDF grid in C order (the FlexiCubes numbering)."""
    c = torch.linspace(-HALF_EXTENT, HALF_EXTENT, n, dtype=dtype)
    return torch.stack(torch.meshgrid(c, c, c, indexing="ij"), dim=-1).reshape(-1, 3)


class _SparseLookup(torch.autograd.Function):
    """weights @ values with the gradient transposed@grad: torch's own sparse autograd builds
    the transpose on every backward, which costs more than the product itself."""

    @staticmethod
    def forward(ctx, values: torch.Tensor, weights: torch.Tensor, transposed: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        ctx.transposed = transposed
        return weights @ values

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: ANN001
        return ctx.transposed @ grad, None, None


class PointLookup:
    """`sample_grid` at fixed points, as a sparse matrix of their trilinear weights.

    Why: the coarse stage reads the same points of the SAE's feature grid every step, and on
    a CPU grid_sample's backward (a scatter per point) is most of a decode's cost; the eight
    weights per point never change, so they are computed once and each read is one sparse
    product (one more, transposed, for the gradient), about 5x faster forward and backward.
    Values match `sample_grid` (border padding, corner-aligned samples) to float rounding.
    """

    def __init__(self, corners: torch.Tensor, weights: torch.Tensor, n: int) -> None:
        self.corners, self.weights, self.n = corners, weights, n
        count = corners.shape[0]
        rows = torch.arange(0, 8 * count + 1, 8, device=corners.device)
        with warnings.catch_warnings():  # "sparse CSR support is in beta": products are all we use
            warnings.simplefilter("ignore", UserWarning)
            self._matrix = torch.sparse_csr_tensor(
                rows, corners.reshape(-1), weights.reshape(-1), (count, n**3), check_invariants=False
            )
            # The transpose, built by sorting (a point's eight corners are distinct, so no
            # entry repeats): coalescing a COO matrix cost ~10 ms per band refresh.
            flat = corners.reshape(-1)
            order = torch.argsort(flat, stable=True)
            counts = torch.bincount(flat, minlength=n**3)
            crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
            point_of = torch.arange(count, device=corners.device).repeat_interleave(8)
            self._transposed = torch.sparse_csr_tensor(
                crow, point_of[order], weights.reshape(-1)[order], (n**3, count), check_invariants=False
            )

    @classmethod
    def at(cls, points: torch.Tensor, n: int) -> PointLookup:
        """The lookup of (N,3) object-frame points in an n^3 grid."""
        index = ((points.detach() + HALF_EXTENT) / voxel_size(n)).clamp(0, n - 1)
        low = index.floor().long().clamp(max=n - 2)
        frac = (index - low).to(points.dtype)
        corners, weights = [], []
        for di in (0, 1):
            for dj in (0, 1):
                for dk in (0, 1):
                    corners.append(((low[:, 0] + di) * n + low[:, 1] + dj) * n + low[:, 2] + dk)
                    weights.append(
                        (frac[:, 0] if di else 1 - frac[:, 0])
                        * (frac[:, 1] if dj else 1 - frac[:, 1])
                        * (frac[:, 2] if dk else 1 - frac[:, 2])
                    )
        return cls(torch.stack(corners, 1), torch.stack(weights, 1), n)

    def rows(self, index: torch.Tensor) -> PointLookup:
        """The lookup of a subset of the points (their positions in this lookup)."""
        return PointLookup(self.corners[index], self.weights[index], self.n)

    def __len__(self) -> int:
        return self.corners.shape[0]

    def __call__(self, volume: torch.Tensor) -> torch.Tensor:
        """(1,C,n,n,n) grid -> (1,N,C) values at the points, differentiable in the grid."""
        if volume.shape[0] != 1 or volume.shape[-3:] != (self.n,) * 3:
            raise ValueError(f"a PointLookup reads one {self.n}^3 grid, got {tuple(volume.shape)}")
        flat = volume.reshape(volume.shape[1], -1).T.contiguous()
        return _SparseLookup.apply(flat, self._matrix, self._transposed)[None]
