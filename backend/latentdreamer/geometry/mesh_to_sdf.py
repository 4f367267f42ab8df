"""Real triangle mesh -> SDF grid, for encoding real objects and for evaluation.

Sign: generalised winding numbers (winding_number.py), |w| > 0.5 inside, so open scans,
multi-part assets and meshes wound inside-out all get a sensible closed inside; faces
wound inconsistently within a part are re-oriented first (trimesh's fix_winding).
Magnitude: the exact distance to the nearest triangle for samples within `band` voxels
of the surface (a numba scatter over triangles touching only the samples in each
triangle's padded box), and beyond it the distance to the inside/outside boundary of the
sign grid (sdf_from_occupancy.py), which is within a voxel of the truth and cheap.
Where a hole is closed by the winding number there is no triangle on the closing cap, so
the exact distance would be too large and jump in sign across the cap; there the
boundary distance wins (see `_combine`).

The mesh must already be in the normalised frame (normalise.py: inside the radius-0.5
sphere); the grid is grid.py's.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import trimesh

from .grid import HALF_EXTENT, grid_points, voxel_size
from .sdf_from_occupancy import occupancy_to_sdf
from .winding_number import winding_numbers


def mesh_to_sdf(
    vertices: np.ndarray, faces: np.ndarray, resolution: int, band: float = 3.0, fix_winding: bool = True
) -> np.ndarray:
    """(n, n, n) float32 signed distance (metres, negative inside) of a mesh in the object frame."""
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(faces) == 0:
        raise ValueError("mesh_to_sdf needs at least one triangle")
    if fix_winding:
        vertices, faces = consistently_wound(vertices, faces)
    n = resolution
    inside = points_inside(vertices, faces, grid_points(n).reshape(-1, 3), fix_winding=False).reshape(n, n, n)
    exact = unsigned_distance_band(vertices[faces], n, band)
    return _combine(occupancy_to_sdf(inside), exact, np.float32(voxel_size(n)))


def points_inside(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray, fix_winding: bool = True) -> np.ndarray:
    """Boolean inside test |w| > 0.5 for (m, 3) points; the one used by SDFs and volume IoU."""
    if fix_winding:
        vertices, faces = consistently_wound(vertices, faces)
    return np.abs(winding_numbers(vertices, faces, points)) > 0.5


def consistently_wound(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge coincident vertices and orient every connected part consistently.

    Winding numbers need neighbouring faces to agree; the part's overall orientation does
    not matter because the inside test uses |w|.
    """
    mesh = trimesh.Trimesh(vertices, faces, process=True, validate=False)
    trimesh.repair.fix_winding(mesh)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def unsigned_distance_band(tri: np.ndarray, resolution: int, band: float) -> np.ndarray:
    """Exact distance to the nearest triangle for samples within `band` voxels of one; inf elsewhere."""
    tri = np.ascontiguousarray(tri, dtype=np.float64)
    return _scatter_distances(tri, resolution, HALF_EXTENT, voxel_size(resolution), band)


@nb.njit(cache=True)
def _scatter_distances(tri, n, half_extent, h, band):
    dist = np.full((n, n, n), np.inf, np.float32)
    reach = band * h
    for t in range(tri.shape[0]):
        lo = np.empty(3, np.int64)
        hi = np.empty(3, np.int64)
        for c in range(3):
            mn = min(tri[t, 0, c], tri[t, 1, c], tri[t, 2, c]) - reach
            mx = max(tri[t, 0, c], tri[t, 1, c], tri[t, 2, c]) + reach
            lo[c] = max(0, int(np.ceil((mn + half_extent) / h)))
            hi[c] = min(n - 1, int(np.floor((mx + half_extent) / h)))
        for i in range(lo[0], hi[0] + 1):
            px = -half_extent + i * h
            for j in range(lo[1], hi[1] + 1):
                py = -half_extent + j * h
                for k in range(lo[2], hi[2] + 1):
                    pz = -half_extent + k * h
                    d = np.sqrt(_point_triangle_sq(tri, t, px, py, pz))
                    if d < dist[i, j, k] and d <= reach:
                        dist[i, j, k] = d
    return dist


@nb.njit(cache=True, inline="always")
def _point_segment_sq(ax, ay, az, bx, by, bz, px, py, pz):
    """Squared distance from p to the segment ab (a point when a == b)."""
    abx, aby, abz = bx - ax, by - ay, bz - az
    apx, apy, apz = px - ax, py - ay, pz - az
    length2 = abx * abx + aby * aby + abz * abz
    s = 0.0
    if length2 > 0.0:
        s = min(1.0, max(0.0, (apx * abx + apy * aby + apz * abz) / length2))
    x, y, z = apx - s * abx, apy - s * aby, apz - s * abz
    return x * x + y * y + z * z


@nb.njit(cache=True, inline="always")
def _point_triangle_sq(tri, t, px, py, pz):
    """Squared distance from p to triangle t (closest-point regions, Ericson 2005 §5.1.5).

    A degenerate triangle (zero area: a repeated vertex or three points on a line, common
    in scans and exported assets) is the union of its edges, so its distance is theirs;
    the region formulas below would divide by zero for it. For every other triangle their
    denominators are |ab|^2, |bc|^2, |ac|^2 and |ab x ac|^2, all positive.
    """
    ax, ay, az = tri[t, 0, 0], tri[t, 0, 1], tri[t, 0, 2]
    abx, aby, abz = tri[t, 1, 0] - ax, tri[t, 1, 1] - ay, tri[t, 1, 2] - az
    acx, acy, acz = tri[t, 2, 0] - ax, tri[t, 2, 1] - ay, tri[t, 2, 2] - az
    nx, ny, nz = aby * acz - abz * acy, abz * acx - abx * acz, abx * acy - aby * acx
    cross2 = nx * nx + ny * ny + nz * nz
    ab2 = abx * abx + aby * aby + abz * abz
    ac2 = acx * acx + acy * acy + acz * acz
    if cross2 <= 1e-12 * ab2 * ac2:  # sin^2 of the angle at a below 1e-12, or an edge of length 0
        bx, by, bz = tri[t, 1, 0], tri[t, 1, 1], tri[t, 1, 2]
        cx, cy, cz = tri[t, 2, 0], tri[t, 2, 1], tri[t, 2, 2]
        return min(
            _point_segment_sq(ax, ay, az, bx, by, bz, px, py, pz),
            _point_segment_sq(bx, by, bz, cx, cy, cz, px, py, pz),
            _point_segment_sq(ax, ay, az, cx, cy, cz, px, py, pz),
        )
    apx, apy, apz = px - ax, py - ay, pz - az
    d1 = abx * apx + aby * apy + abz * apz
    d2 = acx * apx + acy * apy + acz * apz
    if d1 <= 0.0 and d2 <= 0.0:
        return apx * apx + apy * apy + apz * apz
    bpx, bpy, bpz = px - tri[t, 1, 0], py - tri[t, 1, 1], pz - tri[t, 1, 2]
    d3 = abx * bpx + aby * bpy + abz * bpz
    d4 = acx * bpx + acy * bpy + acz * bpz
    if d3 >= 0.0 and d4 <= d3:
        return bpx * bpx + bpy * bpy + bpz * bpz
    vc = d1 * d4 - d3 * d2
    if vc <= 0.0 and d1 >= 0.0 and d3 <= 0.0:
        v = d1 / (d1 - d3)
        x, y, z = apx - v * abx, apy - v * aby, apz - v * abz
        return x * x + y * y + z * z
    cpx, cpy, cpz = px - tri[t, 2, 0], py - tri[t, 2, 1], pz - tri[t, 2, 2]
    d5 = abx * cpx + aby * cpy + abz * cpz
    d6 = acx * cpx + acy * cpy + acz * cpz
    if d6 >= 0.0 and d5 <= d6:
        return cpx * cpx + cpy * cpy + cpz * cpz
    vb = d5 * d2 - d1 * d6
    if vb <= 0.0 and d2 >= 0.0 and d6 <= 0.0:
        w = d2 / (d2 - d6)
        x, y, z = apx - w * acx, apy - w * acy, apz - w * acz
        return x * x + y * y + z * z
    va = d3 * d6 - d5 * d4
    if va <= 0.0 and (d4 - d3) >= 0.0 and (d5 - d6) >= 0.0:
        w = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        x = bpx - w * (tri[t, 2, 0] - tri[t, 1, 0])
        y = bpy - w * (tri[t, 2, 1] - tri[t, 1, 1])
        z = bpz - w * (tri[t, 2, 2] - tri[t, 1, 2])
        return x * x + y * y + z * z
    denom = 1.0 / (va + vb + vc)
    v = vb * denom
    w = vc * denom
    x, y, z = apx - v * abx - w * acx, apy - v * aby - w * acy, apz - v * abz - w * acz
    return x * x + y * y + z * z


@nb.njit(cache=True)
def _combine(boundary, exact, h):
    """Exact distance where it agrees with the sign grid, the boundary distance elsewhere.

    Near a real surface the exact distance is at most the boundary distance + h/2 (the
    nearest sample of the other sign lies beyond the surface); when it is larger, the
    sign change there has no triangle (a hole closed by the winding number).
    """
    out = boundary.copy()
    nx, ny, nz = boundary.shape
    for i in range(nx):
        for j in range(ny):
            for k in range(nz):
                e = exact[i, j, k]
                b = boundary[i, j, k]
                if e < np.inf and e <= abs(b) + 0.75 * h:
                    out[i, j, k] = e if b > 0 else -e
    return out
