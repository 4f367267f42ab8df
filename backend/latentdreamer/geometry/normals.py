"""Surface normals of a triangle mesh, differentiable in the vertex positions."""

from __future__ import annotations

import torch


def face_normals(vertices: torch.Tensor, faces: torch.Tensor, unit: bool = True) -> torch.Tensor:
    """(F, 3) outward normals for CCW faces; with unit=False their length is twice the area."""
    v = vertices[faces.long()]
    n = torch.linalg.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0], dim=-1)
    return torch.nn.functional.normalize(n, dim=-1, eps=1e-20) if unit else n


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(V, 3) unit normals: the area-weighted mean of the adjacent faces' normals, so that
    slivers (common in FlexiCubes output) barely tilt them. Unused vertices get zero."""
    n = face_normals(vertices, faces, unit=False)
    idx = faces.long().reshape(-1)
    summed = vertices.new_zeros(vertices.shape).index_add(0, idx, n.repeat_interleave(3, dim=0))
    return torch.nn.functional.normalize(summed, dim=-1, eps=1e-20)
