"""FlexiCubes' regularisers, computed from an extraction's intermediate values.

They keep an optimised surface well behaved where the image losses say nothing: dual vertices
near the centre of their crossings (no slivers, no folded quads), no stray sign changes
(floaters, internal sheets), and weights that only move when a loss asks them to.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentdreamer.geometry.flexicubes.extract import FlexiCubesMesh


def deviation_loss(mesh: FlexiCubesMesh) -> torch.Tensor:
    """L_dev: mean absolute deviation of each dual vertex's distances to its unweighted crossings.

    Zero when every dual vertex is equidistant from the crossings it stands for.
    """
    if mesh.crossings.numel() == 0:
        return mesh.vertices.sum() * 0
    index = mesh.crossing_vertex
    distance = (mesh.vertices[index] - mesh.crossings).norm(dim=1)
    num_vertices = int(index.max()) + 1
    total = torch.zeros(num_vertices, dtype=distance.dtype, device=distance.device).index_add(0, index, distance)
    count = torch.bincount(index, minlength=num_vertices).to(distance.dtype)
    mean = total / count.clamp(min=1)
    return (distance - mean[index]).abs().mean()


def sdf_sign_loss(mesh: FlexiCubesMesh) -> torch.Tensor:
    """Binary cross-entropy between each end's SDF (as a logit) and the other end's sign.

    Over sign-changing grid edges only: it pushes both ends toward zero, so sign changes that
    no image loss supports (floaters, internal sheets) shrink and vanish.
    """
    s = mesh.edge_sdf
    if s.numel() == 0:
        return s.sum() * 0
    outside = (s.detach() >= 0).to(s.dtype)
    loss = F.binary_cross_entropy_with_logits(s[:, 0], outside[:, 1]) + F.binary_cross_entropy_with_logits(s[:, 1], outside[:, 0])
    return loss


def weight_l2(*raw: torch.Tensor | None) -> torch.Tensor:
    """Sum over the given raw weight tensors (alpha, beta) of their mean square; None is skipped."""
    terms = [x.pow(2).mean() for x in raw if x is not None]
    if not terms:
        raise ValueError("weight_l2 needs at least one raw weight tensor")
    return torch.stack(terms).sum()
