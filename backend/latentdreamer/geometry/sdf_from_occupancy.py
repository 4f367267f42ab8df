"""Occupancy grid -> signed distance grid, shared by random shapes and mesh -> SDF.

A solid known only at the grid samples has its surface somewhere between an inside and
an outside neighbour; we put it half-way, so each sample's signed distance is its exact
Euclidean distance to the nearest sample of the other kind minus half a voxel. The
distance transform is the separable lower-envelope-of-parabolas algorithm (Felzenszwalb
& Huttenlocher 2012), compiled with numba: it is exact and linear in the number of samples. It runs on one
thread on purpose: grids of 32^3-128^3 take milliseconds, data loading runs one shape per
worker process, and on a shared 2-core machine OpenMP threads cost more than they save
(measured: 15 ms at 64^3 on one thread, 60 ms on two under load).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .grid import voxel_size

_FAR = np.float32(1e30)
"""Squared distance of a line with no feature sample; larger than any real one."""


@nb.njit(cache=True, inline="always")
def _envelope_1d(f: np.ndarray, out: np.ndarray, v: np.ndarray, z: np.ndarray) -> None:
    """Squared distance along one line: out[q] = min_p (q - p)^2 + f[p]."""
    n = f.shape[0]
    k = -1
    for q in range(n):
        fq = f[q]
        if fq >= _FAR:
            continue
        s = -np.inf
        while k >= 0:
            p = v[k]
            s = ((fq + q * q) - (f[p] + p * p)) / (2.0 * q - 2.0 * p)
            if s <= z[k]:
                k -= 1
            else:
                break
        k += 1
        v[k] = q
        z[k] = s if k > 0 else -np.inf
        z[k + 1] = np.inf
    if k < 0:
        for q in range(n):
            out[q] = _FAR
        return
    j = 0
    for q in range(n):
        while z[j + 1] < q:
            j += 1
        p = v[j]
        out[q] = (q - p) * (q - p) + f[p]


@nb.njit(cache=True)
def _squared_edt(feature: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance (in voxels) from every sample to the nearest True one."""
    nx, ny, nz = feature.shape
    d = np.empty((nx, ny, nz), np.float32)
    # Axis z: the 1-D distance of a binary line, two sweeps, then squared.
    for i in range(nx):
        for j in range(ny):
            last = -1
            for k in range(nz):
                if feature[i, j, k]:
                    last = k
                d[i, j, k] = _FAR if last < 0 else k - last
            last = -1
            for k in range(nz - 1, -1, -1):
                if feature[i, j, k]:
                    last = k
                if last >= 0 and last - k < d[i, j, k]:
                    d[i, j, k] = last - k
            for k in range(nz):
                if d[i, j, k] < _FAR:
                    d[i, j, k] = d[i, j, k] * d[i, j, k]
    # Axes y and x: lower envelopes along the middle axis of a C-ordered array, which keeps
    # each (y, z) slab in cache; x is made the middle axis by a transposed copy.
    _envelopes_along_axis1(d)
    t = np.ascontiguousarray(d.transpose(1, 0, 2))
    _envelopes_along_axis1(t)
    return np.ascontiguousarray(t.transpose(1, 0, 2))


@nb.njit(cache=True)
def _envelopes_along_axis1(d: np.ndarray) -> None:
    n0, n1, n2 = d.shape
    f = np.empty(n1, np.float32)
    out = np.empty(n1, np.float32)
    v = np.empty(n1, np.int64)
    z = np.empty(n1 + 1, np.float64)
    for i in range(n0):
        for k in range(n2):
            for j in range(n1):
                f[j] = d[i, j, k]
            _envelope_1d(f, out, v, z)
            for j in range(n1):
                d[i, j, k] = out[j]


def squared_distance_transform(feature: np.ndarray) -> np.ndarray:
    """Exact squared distance in voxels to the nearest True sample (1e30 if there is none)."""
    feature = np.ascontiguousarray(feature, dtype=np.bool_)
    if feature.ndim != 3:
        raise ValueError(f"expected a 3-D grid, got shape {feature.shape}")
    return _squared_edt(feature)


def occupancy_to_sdf(occ: np.ndarray) -> np.ndarray:
    """Signed distance (metres, negative inside) of a boolean (n, n, n) occupancy grid.

    The grid is the project's grid (grid.py): the voxel size follows from n. The zero
    level set lies half-way between every inside sample and its outside neighbours, so
    marching cubes / FlexiCubes on the result reproduces the occupancy exactly.
    """
    occ = np.ascontiguousarray(occ, dtype=np.bool_)
    if occ.ndim != 3 or len(set(occ.shape)) != 1:
        raise ValueError(f"expected an (n, n, n) occupancy grid, got shape {occ.shape}")
    return _signed(occ, _squared_edt(occ), _squared_edt(~occ), np.float32(voxel_size(occ.shape[0])))


@nb.njit(cache=True)
def _signed(occ: np.ndarray, to_inside: np.ndarray, to_outside: np.ndarray, h: np.float32) -> np.ndarray:
    nx, ny, nz = occ.shape
    sdf = np.empty((nx, ny, nz), np.float32)
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                if occ[i, j, k]:
                    sdf[i, j, k] = (np.float32(0.5) - np.sqrt(to_outside[i, j, k])) * h
                else:
                    sdf[i, j, k] = (np.sqrt(to_inside[i, j, k]) - np.float32(0.5)) * h
    return sdf


def field_to_sdf(field: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Signed distance of {field > level} with the surface placed sub-voxel where the field is smooth.

    For a continuous field (a blurred occupancy), the samples next to the surface get the
    distance to the plane through the linearly interpolated level crossings on their grid
    edges (on a binary field, the edge midpoints: h/2 for one crossing edge, h/(2*sqrt 2)
    for two) instead of occupancy_to_sdf's distance to the nearest opposite sample minus
    h/2; all other samples are as in occupancy_to_sdf. On a sphere this cuts the error of
    the first ring from 0.2 to 0.05 voxel (tests/backend/geometry/test_sdf_from_occupancy.py).
    """
    field = np.ascontiguousarray(field, dtype=np.float32)
    occ = field > level
    return _refine_first_ring(occupancy_to_sdf(occ), field, np.float32(level), np.float32(voxel_size(field.shape[0])))


@nb.njit(cache=True)
def _refine_first_ring(sdf: np.ndarray, field: np.ndarray, level: np.float32, h: np.float32) -> np.ndarray:
    nx, ny, nz = field.shape
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                fp = field[i, j, k] - level
                inside = fp > 0
                inv_sq = 0.0
                for axis in range(3):
                    nearest = 2.0  # fraction of an edge to the nearest crossing along this axis
                    for step in (-1, 1):
                        a, b, c = i, j, k
                        if axis == 0:
                            a += step
                        elif axis == 1:
                            b += step
                        else:
                            c += step
                        if a < 0 or b < 0 or c < 0 or a >= nx or b >= ny or c >= nz:
                            continue
                        fq = field[a, b, c] - level
                        if (fq > 0) != inside:
                            t = fp / (fp - fq)
                            nearest = min(nearest, max(t, 1e-3))
                    if nearest <= 1.0:
                        inv_sq += 1.0 / (nearest * nearest)
                if inv_sq > 0.0:
                    d = h / np.sqrt(inv_sq)
                    sdf[i, j, k] = -d if inside else d
    return sdf
