"""The mesh value that flows between stages, exporters, the worker and Blender.

Colours are sRGB-encoded floats in [0, 1] (the encoding of the images they come
from); exporters convert where a format wants linear values (glTF's COLOR_0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Mesh:
    """Triangle mesh in the object frame (Z up, metres), CCW winding seen from outside."""

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int64).reshape(-1, 3)
        if self.colors is not None:
            c = np.asarray(self.colors, dtype=np.float32)
            if c.ndim != 2 or c.shape[0] != len(self.vertices) or c.shape[1] not in (3, 4):
                raise ValueError(f"colors must be (V, 3|4) with V={len(self.vertices)}, got {c.shape}")
            if c.shape[1] == 3:
                c = np.concatenate([c, np.ones((len(c), 1), np.float32)], axis=1)
            self.colors = np.ascontiguousarray(c)
        if len(self.faces) and (self.faces.min() < 0 or self.faces.max() >= len(self.vertices)):
            raise ValueError("face indices out of range of the vertex array")

    @property
    def num_vertices(self) -> int:
        return len(self.vertices)

    @property
    def num_faces(self) -> int:
        return len(self.faces)
