"""The two similarity transforms every mesh goes through: into the SDF sphere, into the eval box.

- `sphere_normalisation`: bounding-box centre to the origin, farthest vertex at radius 0.5
  (docs/design.md §4; the frame of SDF grids, Zero123++ views and the random shapes, which use
  the same rule).
- `unit_box_normalisation`: bounding-box centre to the origin, longest side 1 (the
  evaluation protocol, docs/design.md §7).
Neither rotates: meshes arrive already in the object frame (Z up), see io/eval_meshes.py.
Only vertices used by a face count, so stray unreferenced vertices cannot shift the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grid import OBJECT_RADIUS
from .mesh import Mesh


@dataclass(frozen=True)
class Normalisation:
    """x -> (x - centre) * scale."""

    centre: np.ndarray
    scale: float

    def apply(self, points: np.ndarray) -> np.ndarray:
        return ((np.asarray(points, dtype=np.float64) - self.centre) * self.scale).astype(np.float32)

    def invert(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) / self.scale + self.centre).astype(np.float32)

    def mesh(self, mesh: Mesh) -> Mesh:
        """The mesh moved by this transform (faces, colours and any texture shared, not copied)."""
        return Mesh(self.apply(mesh.vertices), mesh.faces, mesh.colors, uvs=mesh.uvs, texture=mesh.texture)


def sphere_normalisation(mesh: Mesh, radius: float = OBJECT_RADIUS) -> Normalisation:
    """Centre the bounding box, scale the farthest used vertex to `radius`."""
    points = _used_vertices(mesh)
    centre = 0.5 * (points.min(axis=0) + points.max(axis=0))
    reach = np.linalg.norm(points - centre, axis=1).max()
    return Normalisation(centre, radius / _positive(reach))


def unit_box_normalisation(mesh: Mesh) -> Normalisation:
    """Centre the bounding box, scale its longest side to 1 (evaluation protocol)."""
    points = _used_vertices(mesh)
    lo, hi = points.min(axis=0), points.max(axis=0)
    return Normalisation(0.5 * (lo + hi), 1.0 / _positive((hi - lo).max()))


def fit_in_sphere(mesh: Mesh, radius: float = OBJECT_RADIUS) -> Mesh:
    return sphere_normalisation(mesh, radius).mesh(mesh)


def fit_in_unit_box(mesh: Mesh) -> Mesh:
    return unit_box_normalisation(mesh).mesh(mesh)


def _used_vertices(mesh: Mesh) -> np.ndarray:
    if mesh.num_faces == 0:
        raise ValueError("cannot normalise a mesh without faces")
    return mesh.vertices[np.unique(mesh.faces)].astype(np.float64)


def _positive(size: float) -> float:
    if not size > 0:
        raise ValueError("cannot normalise a mesh whose faces have no extent")
    return float(size)
