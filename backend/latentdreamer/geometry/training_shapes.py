"""Named shape distributions for training and evaluating the SAE, by seed.

A config names its distribution (train/sae.py `shapes`), so the shipped SAE's config keeps
meaning what it meant: "blocks" is random_shapes.random_sdf unchanged, seed for seed. "thin" is
thin_shapes.py; "mixed" takes blocks for even seeds and thin objects for odd ones, so a
fine-tuned model keeps seeing the old distribution (the same even-seed shapes it was trained
on) while it learns the new one. A shape carries its exact distance where its generator has
one (thin objects), which train/sae.py uses for targets finer than the grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DISTRIBUTIONS: tuple[str, ...] = ("blocks", "thin", "mixed")

DistanceFn = Callable[[np.ndarray], np.ndarray]
"""(m, 3) object-frame points -> (m,) signed distances in metres."""


@dataclass(frozen=True)
class TrainingShape:
    """An (n, n, n) SDF grid (the encoder's input) and, if known, the exact distance anywhere."""

    sdf: np.ndarray
    distance: DistanceFn | None = None


def training_shape(distribution: str, seed: int, resolution: int) -> TrainingShape:
    """The shape of this seed in the named distribution, its grid at `resolution`."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown shape distribution {distribution!r}; expected one of {DISTRIBUTIONS}")
    if distribution == "blocks" or (distribution == "mixed" and seed % 2 == 0):
        from latentdreamer.geometry.random_shapes import random_sdf

        return TrainingShape(random_sdf(seed, resolution))
    from latentdreamer.geometry.thin_shapes import thin_shape

    shape = thin_shape(seed, resolution)
    return TrainingShape(shape.sdf, shape.distance)
