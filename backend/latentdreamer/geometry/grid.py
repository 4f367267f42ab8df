"""The one definition of where an SDF grid lives in the object frame.

Every SDF grid in the project is an (n, n, n) array of samples at the vertices of a
regular lattice spanning [-HALF_EXTENT, HALF_EXTENT]^3, indexed [i, j, k] <-> (x, y, z).
Flattened in C order, sample (i, j, k) has index i*n^2 + j*n + k, which is exactly the
FlexiCubes vertex numbering for a grid of n - 1 cubes per axis. Objects are normalised
into the sphere of radius 0.5 (docs/design.md §4), so the outer shell of samples is always
outside the object and FlexiCubes never leaves a hole on the boundary.
"""

from __future__ import annotations

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
