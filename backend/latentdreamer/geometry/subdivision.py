"""Loop subdivision as a sparse linear operator, built once per topology.

trimesh's `subdivide_loop` moves positions only; the texture stage needs the same
refinement applied to colours and features, and the optimisers need gradients through
it. Every new vertex is a fixed linear combination of old ones, so one (V' x V) sparse
matrix S does all of it: `new_attrs = S @ attrs` for any per-vertex attribute.

Rules (Loop 1987, with the usual crease/boundary extension):
- odd (edge) vertex of an edge shared by exactly two faces: 3/8, 3/8 for the endpoints,
  1/8, 1/8 for the two opposite vertices; any other edge (boundary or non-manifold) is
  "sharp" and its odd vertex is the midpoint.
- even (old) vertex with no sharp edge and valence n: (1 - n*beta) self + beta per
  neighbour. `beta="warren"` (default) is 3/(8n) for n > 3 and 3/16 for n = 3;
  `beta="loop"` is Loop's original 1/n (5/8 - (3/8 + cos(2 pi/n)/4)^2), which is
  what trimesh uses. The two agree for n = 3 and n = 6.
- even vertex on exactly two sharp edges: 3/4 self + 1/8 per sharp-edge neighbour;
  on one or more than two sharp edges (a corner or a non-manifold junction): kept fixed.

Differences from trimesh's boundary handling: trimesh picks a boundary vertex's
neighbours by "is the neighbour a boundary vertex", so an interior edge between two
boundary vertices also counts; here only the sharp edges themselves count, and
corners/junctions stay fixed. On meshes where no interior edge joins two boundary
vertices (and with `beta="loop"`), the results are identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

from latentdreamer.geometry.mesh import Mesh

BetaRule = Literal["warren", "loop"]


@dataclass(frozen=True)
class LoopSubdivision:
    """The refined faces and the operator that maps old per-vertex attributes to new ones."""

    faces: torch.Tensor
    """(F * 4**iterations, 3) int64, same winding as the input."""
    operator: torch.Tensor
    """(V', V) sparse COO float32; rows [0, V) are the old vertices, the rest edge vertices."""

    @property
    def num_vertices(self) -> int:
        return self.operator.shape[0]

    def __call__(self, attrs: torch.Tensor) -> torch.Tensor:
        """Refine (V,) or (V, C) attributes; differentiable w.r.t. `attrs`."""
        op = self.operator.to(device=attrs.device, dtype=attrs.dtype)
        if attrs.ndim == 1:
            return torch.sparse.mm(op, attrs.unsqueeze(1)).squeeze(1)
        return torch.sparse.mm(op, attrs)


def _beta(valence: np.ndarray, rule: BetaRule) -> np.ndarray:
    n = np.maximum(valence, 1).astype(np.float64)
    if rule == "warren":
        return np.where(valence == 3, 3.0 / 16.0, 3.0 / (8.0 * n))
    if rule == "loop":
        return (5.0 / 8.0 - (3.0 / 8.0 + np.cos(2.0 * np.pi / n) / 4.0) ** 2) / n
    raise ValueError(f"unknown beta rule {rule!r}; use 'warren' or 'loop'")


def _one_step(faces: np.ndarray, num_vertices: int, rule: BetaRule) -> tuple[np.ndarray, sp.csr_matrix]:
    """One Loop step: new faces and the (V + E, V) scipy operator."""
    num_faces = len(faces)
    # Face-edge j of face f runs faces[f, j] -> faces[f, j+1]; its opposite corner is faces[f, j+2].
    start = faces.reshape(-1)
    end = np.roll(faces, -1, axis=1).reshape(-1)
    opposite = np.roll(faces, -2, axis=1).reshape(-1)
    low, high = np.minimum(start, end), np.maximum(start, end)
    keys, face_edge = np.unique(low * num_vertices + high, return_inverse=True)
    face_edge = face_edge.reshape(-1)
    edges = np.stack([keys // num_vertices, keys % num_vertices], axis=1)
    num_edges = len(edges)
    faces_per_edge = np.bincount(face_edge, minlength=num_edges)
    sharp = faces_per_edge != 2

    # Odd vertices. Each face-edge of a smooth edge adds 3/16 per endpoint and 1/8 for its
    # opposite corner, so the two faces together give 3/8, 3/8, 1/8, 1/8.
    smooth_fe = ~sharp[face_edge]
    fe_rows = num_vertices + face_edge[smooth_fe]
    odd_rows = [fe_rows, fe_rows, fe_rows]
    odd_cols = [start[smooth_fe], end[smooth_fe], opposite[smooth_fe]]
    odd_vals = [np.full(len(fe_rows), 3.0 / 16.0)] * 2 + [np.full(len(fe_rows), 1.0 / 8.0)]
    sharp_ids = np.flatnonzero(sharp)
    odd_rows += [num_vertices + sharp_ids] * 2
    odd_cols += [edges[sharp_ids, 0], edges[sharp_ids, 1]]
    odd_vals += [np.full(len(sharp_ids), 0.5)] * 2

    # Even vertices: classify by the number of sharp edges at each vertex.
    valence = np.bincount(edges.reshape(-1), minlength=num_vertices)
    sharp_count = np.bincount(edges[sharp].reshape(-1), minlength=num_vertices)
    smooth_v = sharp_count == 0
    crease_v = sharp_count == 2
    beta = _beta(valence, rule)
    self_weight = np.where(smooth_v, 1.0 - valence * beta, np.where(crease_v, 0.75, 1.0))
    self_weight = np.where(valence == 0, 1.0, self_weight)
    both = np.concatenate([edges, edges[:, ::-1]])  # (vertex, neighbour) for every edge, both ways
    edge_sharp = np.concatenate([sharp, sharp])
    v, nb = both[:, 0], both[:, 1]
    nb_weight = np.where(smooth_v[v], beta[v], np.where(crease_v[v] & edge_sharp, 1.0 / 8.0, 0.0))
    keep = nb_weight > 0
    verts = np.arange(num_vertices)

    rows = np.concatenate([verts, v[keep], *odd_rows])
    cols = np.concatenate([verts, nb[keep], *odd_cols])
    vals = np.concatenate([self_weight, nb_weight[keep], *odd_vals])
    operator = sp.csr_matrix((vals, (rows, cols)), shape=(num_vertices + num_edges, num_vertices))

    m = num_vertices + face_edge.reshape(num_faces, 3)  # m[:, j] sits on edge faces[:, j] -> faces[:, j+1]
    a, b, c = faces[:, 0], faces[:, 1], faces[:, 2]
    new_faces = np.concatenate(
        [
            np.stack([a, m[:, 0], m[:, 2]], axis=1),
            np.stack([b, m[:, 1], m[:, 0]], axis=1),
            np.stack([c, m[:, 2], m[:, 1]], axis=1),
            m,
        ]
    )
    return new_faces, operator


def loop_subdivision(
    faces: np.ndarray | torch.Tensor, num_vertices: int, iterations: int = 1, beta: BetaRule = "warren"
) -> LoopSubdivision:
    """Build the Loop operator for a topology; reuse it for every attribute on that topology."""
    if iterations < 0:
        raise ValueError("iterations must be >= 0")
    if isinstance(faces, torch.Tensor):
        faces = faces.detach().cpu().numpy()
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    operator = sp.identity(num_vertices, format="csr", dtype=np.float64)
    count = num_vertices
    for _ in range(iterations):
        faces, step = _one_step(faces, count, beta)
        operator = step @ operator
        count = step.shape[0]
    coo = operator.tocoo()
    indices = torch.from_numpy(np.stack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    sparse = torch.sparse_coo_tensor(indices, values, size=coo.shape, check_invariants=True).coalesce()
    return LoopSubdivision(faces=torch.from_numpy(np.ascontiguousarray(faces)), operator=sparse)


def subdivide_mesh(mesh: Mesh, iterations: int = 1, beta: BetaRule = "warren") -> Mesh:
    """Loop-subdivide a Mesh, carrying its colours along with the positions."""
    sub = loop_subdivision(mesh.faces, mesh.num_vertices, iterations, beta)
    attrs = mesh.vertices if mesh.colors is None else np.concatenate([mesh.vertices, mesh.colors], axis=1)
    new = sub(torch.from_numpy(attrs.astype(np.float32))).numpy()
    colors = None if mesh.colors is None else np.clip(new[:, 3:], 0.0, 1.0)
    return Mesh(new[:, :3], sub.faces.numpy(), colors)
