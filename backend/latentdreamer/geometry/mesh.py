"""The mesh value that flows between stages, exporters, the worker and Blender.

Colours are sRGB-encoded floats in [0, 1] (the encoding of the images they come
from); exporters convert where a format wants linear values (glTF's COLOR_0).

A baked texture travels as per-corner UVs plus the image. Per corner (not per vertex) so the
vertex array stays the closed surface that the vertex colours, Blender's modifiers and the
metrics need; exporters split vertices along UV seams where a format wants per-vertex UVs.
UVs follow OpenGL/Blender/OBJ: (0, 0) is the image's bottom-left corner, so texel row 0 at
the top of the image is v = 1.
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
    uvs: np.ndarray | None = None
    """(F, 3, 2) float32 texture coordinates of each face corner, or None."""
    texture: np.ndarray | None = None
    """(H, W, 3) float32 sRGB image, row 0 at the top, that `uvs` address; None without UVs."""

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
        if (self.uvs is None) != (self.texture is None):
            raise ValueError("uvs and texture come together: give both or neither")
        if self.uvs is not None:
            self.uvs = np.ascontiguousarray(self.uvs, dtype=np.float32).reshape(-1, 3, 2)
            if len(self.uvs) != len(self.faces):
                raise ValueError(f"uvs must be (F, 3, 2) with F={len(self.faces)}, got {self.uvs.shape}")
            t = np.asarray(self.texture, dtype=np.float32)
            if t.ndim != 3 or t.shape[2] != 3 or min(t.shape[:2]) < 1:
                raise ValueError(f"texture must be an (H, W, 3) image, got {t.shape}")
            self.texture = np.ascontiguousarray(t)

    @property
    def num_vertices(self) -> int:
        return len(self.vertices)

    @property
    def num_faces(self) -> int:
        return len(self.faces)
