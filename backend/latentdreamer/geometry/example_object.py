"""A coloured object the project makes itself, for the demo and the end-to-end tests.

A seeded random shape (geometry/random_shapes.py) with colours from a procedural pattern
that has structure at several scales and differs from every side (hue from the azimuth,
bands along the height), so a reconstruction that mirrors or rotates the views shows it.
"""

from __future__ import annotations

import colorsys

import numpy as np
import torch

from latentdreamer.geometry.flexicubes import flexicubes
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.geometry.random_shapes import random_sdf


def pattern_colours(points: np.ndarray) -> np.ndarray:
    """(V, 3) object-frame points -> (V, 4) sRGB colours."""
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    hue = (np.arctan2(y, x) / (2 * np.pi)) % 1.0
    bands = 0.5 + 0.5 * np.sign(np.sin(z * 2 * np.pi * 4.0))
    value = 0.55 + 0.4 * bands
    rgb = np.array([colorsys.hsv_to_rgb(h, 0.75, v) for h, v in zip(hue, value, strict=True)], dtype=np.float32)
    return np.concatenate([rgb, np.ones((len(rgb), 1), np.float32)], axis=1)


def example_object(seed: int = 7, resolution: int = 64) -> Mesh:
    sdf = torch.from_numpy(random_sdf(seed, resolution))
    extracted = flexicubes(sdf)
    vertices = extracted.vertices.detach().numpy().astype(np.float32)
    return Mesh(vertices, extracted.faces.numpy(), pattern_colours(vertices))
