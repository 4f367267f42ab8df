"""FlexiCubes surface extraction (Shen et al. 2023), touching only cubes the surface crosses.

The grid is the shared SDF lattice (grid.py): (R+1)^3 vertices, vertex (i, j, k) has index
i(R+1)^2 + j(R+1) + k, cube (i, j, k) has index iR^2 + jR + k and corner c at offset
(c & 1, c >> 1 & 1, c >> 2 & 1). Everything below is index arithmetic on the cubes whose case
is neither empty nor full: a dense pass only computes 8-bit case ids, so the cost grows with
the surface area, not the grid volume (the reference builds its topology with torch.unique
over the whole grid, which dominates its run time on a CPU).

Per surface cube the crossings of its sign-changing edges (alpha-scaled SDF values) are
averaged with weights beta into one dual vertex per sheet (table.py). Every sign-changing
grid edge inside the grid is surrounded by four surface cubes; their dual vertices for that
edge form a quad, oriented so its normal points toward positive SDF. Quads become two
triangles split along the diagonal with the larger gamma product (inference) or four
triangles around a gamma-weighted centre (training), which makes gamma differentiable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from latentdreamer.geometry.flexicubes.table import CORNER_OFFSETS, EDGES, case_table, edge_axis, edge_index
from latentdreamer.geometry.grid import HALF_EXTENT
from latentdreamer.geometry.mesh import Mesh

WEIGHT_SCALE = 0.99
"""w in beta, alpha = 1 + w tanh(raw) and gamma = w sigmoid(raw) + (1 - w)/2: weights stay in
(0.01, 1.99) and (0.005, 0.995), so crossings never leave their edge and gamma never vanishes."""


@dataclass
class FlexiCubesMesh:
    """An extracted surface plus the intermediate values its regularisers are defined on."""

    vertices: torch.Tensor
    """(V, 3): the dual vertices, then (training only) one centre vertex per quad."""
    faces: torch.Tensor
    """(F, 3) int64, counter-clockwise seen from outside (positive SDF)."""
    crossings: torch.Tensor
    """(K, 3): the unweighted (alpha = 1) crossing of every sign-changing edge of every surface
    cube; an interior grid edge appears once per cube around it."""
    crossing_vertex: torch.Tensor
    """(K,) int64: the dual vertex (row of `vertices`) each crossing belongs to."""
    edge_sdf: torch.Tensor
    """(E, 2): SDF at the two ends of every sign-changing grid edge, each edge once."""

    def to_mesh(self) -> Mesh:
        """Detached numpy copy for exporters and Blender."""
        return Mesh(self.vertices.detach().cpu().numpy(), self.faces.detach().cpu().numpy())


@dataclass(frozen=True)
class _Tables:
    edge_group: torch.Tensor  # (256, 12)
    num_groups: torch.Tensor  # (256,)
    ambiguous_face: torch.Tensor  # (256,)
    edge_corners: torch.Tensor  # (12, 2)
    edge_lower: torch.Tensor  # (12,) the endpoint with the smaller coordinate along the edge
    edge_axis: torch.Tensor  # (12,)
    corner_offsets: torch.Tensor  # (8, 3)
    quad_owner: torch.Tensor  # (12,) bool: the cube that emits the quad of this edge
    quad_edges: torch.Tensor  # (3, 4) local edge of the quad's edge in each of its 4 cubes
    quad_cubes: torch.Tensor  # (3, 4, 3) offsets of the 4 cubes from the owner, CCW about +axis


def _quad_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which cube emits each quad and how its four cubes go round the edge.

    The owner is the cube that holds the edge at its far corner (both perpendicular offsets
    1), so every grid edge has exactly one owner. Going round the edge counter-clockwise seen
    from +axis (perpendicular axes u = axis+1, v = axis+2 in cyclic order), the cubes sit at
    (u, v) offsets (0, 0), (1, 0), (1, 1), (0, 1) from the owner, and in each of them the edge
    is at perpendicular offset (1 - du, 1 - dv).
    """
    owner = np.zeros(12, dtype=bool)
    edges = np.zeros((3, 4), dtype=np.int64)
    cubes = np.zeros((3, 4, 3), dtype=np.int64)
    for axis in range(3):
        u, v = (axis + 1) % 3, (axis + 2) % 3
        for q, (du, dv) in enumerate([(0, 0), (1, 0), (1, 1), (0, 1)]):
            lower = (1 - du) << u | (1 - dv) << v
            edges[axis, q] = edge_index(lower, lower | 1 << axis)
            cubes[axis, q, u], cubes[axis, q, v] = du, dv
        owner[edges[axis, 0]] = True
    return owner, edges, cubes


@lru_cache(maxsize=8)
def _tables(device: torch.device) -> _Tables:
    table = case_table()
    owner, quad_edges, quad_cubes = _quad_layout()
    lower = np.array([min(a, b) for a, b in EDGES])
    as_t = lambda a: torch.as_tensor(np.array(a), device=device)  # noqa: E731
    return _Tables(
        as_t(table.edge_group),
        as_t(table.num_groups),
        as_t(table.ambiguous_face),
        as_t(EDGES),
        as_t(lower),
        as_t([edge_axis(i) for i in range(12)]),
        as_t(CORNER_OFFSETS),
        as_t(owner),
        as_t(quad_edges),
        as_t(quad_cubes),
    )


def _case_ids(inside: torch.Tensor) -> torch.Tensor:
    """(R, R, R) uint8 case id of every cube, combining neighbours one axis at a time."""
    b = inside.to(torch.uint8)
    b = b[:-1] | (b[1:] << 1)  # corner bit 0: x offset
    b = b[:, :-1] | (b[:, 1:] << 2)  # corner bit 1: y offset
    return b[:, :, :-1] | (b[:, :, 1:] << 4)  # corner bit 2: z offset


def _resolve_ambiguity(case: torch.Tensor, cases: torch.Tensor, coords: torch.Tensor, r: int, t: _Tables) -> torch.Tensor:
    """Flip pairs of one-sheet cubes that meet on their single ambiguous face.

    Both would join all four crossings of the shared face into one vertex each, so the mesh
    edge between those two vertices would be shared by four quads. The complementary case has
    the same crossings but pairs them the other way on that face, and the same pairing on
    every other (unambiguous) face, so flipping both keeps all other neighbours consistent.
    """
    face = t.ambiguous_face[cases]
    idx = (face >= 0).nonzero().squeeze(1)
    if idx.numel() == 0:
        return cases
    axis = face[idx] // 2
    step = face[idx] % 2 * 2 - 1
    neighbour = coords[idx].clone()
    rows = torch.arange(len(idx), device=idx.device)
    neighbour[rows, axis] += step
    inside_grid = (neighbour[rows, axis] >= 0) & (neighbour[rows, axis] < r)
    neighbour_id = (neighbour.clamp(0, r - 1) * torch.tensor([r * r, r, 1], device=idx.device)).sum(1)
    flip = inside_grid & (t.ambiguous_face[case[neighbour_id].long()] >= 0)
    cases = cases.clone()
    cases[idx[flip]] = 255 - cases[idx[flip]]
    return cases


def flexicubes(
    sdf: torch.Tensor,
    *,
    beta_raw: torch.Tensor | None = None,
    alpha_raw: torch.Tensor | None = None,
    gamma_raw: torch.Tensor | None = None,
    deform_raw: torch.Tensor | None = None,
    training: bool = False,
    _dense: bool = False,
) -> FlexiCubesMesh:
    """Extract the s = 0 surface of an (n, n, n) SDF grid (negative inside).

    Raw weights cover all C = (n-1)^3 cubes (beta_raw (C, 12), alpha_raw (C, 8), gamma_raw
    (C,)) and raw deformation all vertices ((n, n, n, 3)), so an optimiser can hold them as
    dense leaf tensors; None means the neutral value (raw 0). Vertex (i, j, k) sits at
    grid_points(n)[i, j, k] + (h/2) tanh(deform_raw[i, j, k]) with h the cell size, so a vertex
    never leaves its half cell and cubes never fold. `_dense` treats every cube as a surface
    cube (same output, reference cost; for benchmarks and tests only).
    """
    if sdf.ndim != 3 or len(set(sdf.shape)) != 1 or sdf.shape[0] < 2:
        raise ValueError(f"sdf must be an (n, n, n) grid with n >= 2, got {tuple(sdf.shape)}")
    n = sdf.shape[0]
    r = n - 1
    for name, raw, per_item, items in (
        ("beta_raw", beta_raw, 12, r**3),
        ("alpha_raw", alpha_raw, 8, r**3),
        ("gamma_raw", gamma_raw, 1, r**3),
        ("deform_raw", deform_raw, 3, n**3),
    ):
        if raw is not None and (raw.numel() != per_item * items or (per_item > 1 and raw.shape[-1] != per_item)):
            raise ValueError(f"{name} must hold {per_item} value(s) for each of {items} grid items, got shape {tuple(raw.shape)}")
    device, dtype = sdf.device, sdf.dtype
    t = _tables(device)

    case = _case_ids(sdf.detach() < 0).reshape(-1)
    if _dense:
        cubes = torch.arange(r**3, device=device)
    else:
        cubes = ((case != 0) & (case != 255)).nonzero().squeeze(1)
    coords = torch.stack([cubes // (r * r), cubes // r % r, cubes % r], dim=1)
    signs = case[cubes].long()
    cases = _resolve_ambiguity(case, signs, coords, r, t)
    groups = t.edge_group[cases]
    counts = t.num_groups[cases]
    first_vertex = torch.cumsum(counts, 0) - counts
    num_dual = int(counts.sum())

    # One row per (surface cube, sign-changing edge); its two ends stacked along dim 0 so each
    # dense leaf is gathered once (every gather costs a full-size zero gradient in backward).
    m, e = (groups >= 0).nonzero(as_tuple=True)
    cube_m, coords_m = cubes[m], coords[m]
    ends = t.edge_corners[e].T  # (2, K) corner ids
    ijk = coords_m + t.corner_offsets[ends]  # (2, K, 3)
    v = (ijk * torch.tensor([n * n, n, 1], device=device)).sum(2)
    axis_coords = torch.linspace(-HALF_EXTENT, HALF_EXTENT, n, dtype=dtype, device=device)
    x = axis_coords[ijk]
    if deform_raw is not None:
        x = x + (HALF_EXTENT / r) * torch.tanh(deform_raw.reshape(-1, 3)[v])
    s = sdf.reshape(-1)[v]

    def crossing(value: torch.Tensor) -> torch.Tensor:
        return (x[0] * value[1, :, None] - x[1] * value[0, :, None]) / (value[1] - value[0])[:, None]

    crossings = crossing(s)
    if alpha_raw is None:
        weighted = crossings
    else:
        weighted = crossing(s * (1 + WEIGHT_SCALE * torch.tanh(alpha_raw.reshape(-1)[cube_m * 8 + ends])))
    if beta_raw is None:
        beta = torch.ones_like(s[0])
    else:
        beta = 1 + WEIGHT_SCALE * torch.tanh(beta_raw.reshape(-1)[cube_m * 12 + e])
    crossing_vertex = first_vertex[m] + groups[m, e]
    numerator = torch.zeros(num_dual, 3, dtype=dtype, device=device).index_add(0, crossing_vertex, weighted * beta[:, None])
    denominator = torch.zeros(num_dual, dtype=dtype, device=device).index_add(0, crossing_vertex, beta)
    dual = numerator / denominator[:, None]

    # Each sign-changing grid edge once, for the SDF sign regulariser: the cube holding it at
    # its lowest perpendicular offsets, except on the grid's far faces where none exists.
    lower_offsets = t.corner_offsets[t.edge_lower[e]]
    own = ((lower_offsets == 0) | (coords_m == r - 1)).all(1)
    edge_sdf = s[:, own].T

    # Quads: one per sign-changing edge with four cubes around it, emitted by its owner.
    q = t.quad_owner[e].nonzero().squeeze(1)
    quad_axis = t.edge_axis[e[q]]
    interior = ((coords_m[q] <= r - 2) | (torch.arange(3, device=device) == quad_axis[:, None])).all(1)
    q, quad_axis = q[interior], quad_axis[interior]
    cube_stride = torch.tensor([r * r, r, 1], device=device)
    quad_cube_ids = cube_m[q][:, None] + (t.quad_cubes[quad_axis] * cube_stride).sum(2)
    slots = quad_cube_ids if _dense else torch.searchsorted(cubes, quad_cube_ids)
    local_edges = t.quad_edges[quad_axis]
    quads = first_vertex[slots] + t.edge_group[cases[slots], local_edges]
    lower_inside = (signs[m[q]] >> t.edge_lower[e[q]]) & 1 == 1
    quads = torch.where(lower_inside[:, None], quads, quads[:, [0, 3, 2, 1]])

    if gamma_raw is None:
        gamma = torch.full((num_dual,), 0.5, dtype=dtype, device=device)
    else:
        vertex_cube = torch.repeat_interleave(cubes, counts)
        gamma = WEIGHT_SCALE * torch.sigmoid(gamma_raw.reshape(-1)[vertex_cube]) + (1 - WEIGHT_SCALE) / 2
    quad_gamma = gamma[quads]
    gamma_02 = quad_gamma[:, 0] * quad_gamma[:, 2]
    gamma_13 = quad_gamma[:, 1] * quad_gamma[:, 3]
    if training:
        corners = dual[quads]
        centres = ((corners[:, 0] + corners[:, 2]) * gamma_02[:, None] + (corners[:, 1] + corners[:, 3]) * gamma_13[:, None]) / (
            2 * (gamma_02 + gamma_13)[:, None]
        )
        centre_ids = num_dual + torch.arange(len(quads), device=device)
        ring = torch.stack([quads, quads.roll(-1, dims=1), centre_ids[:, None].expand(-1, 4)], dim=2)
        vertices = torch.cat([dual, centres])
        faces = ring.reshape(-1, 3)
    else:
        along_02 = quads[:, [0, 1, 2, 0, 2, 3]]
        along_13 = quads[:, [0, 1, 3, 1, 2, 3]]
        vertices = dual
        faces = torch.where((gamma_02 > gamma_13)[:, None], along_02, along_13).reshape(-1, 3)
    return FlexiCubesMesh(vertices, faces, crossings, crossing_vertex, edge_sdf)
