"""Geometric scores of a predicted mesh against ground truth (docs/design.md §7).

Protocol, stated with every number we report: both meshes normalised independently
(bounding-box centre at the origin, longest side 1; no alignment search, both are in the
object frame); 100,000 points sampled uniformly by area on each surface; Chamfer distance
= ½(mean nearest-neighbour distance pred→gt + gt→pred), Euclidean, not squared; F-score
at τ = 0.05 and 0.02 as a fraction in [0, 1] (the paper prints percent); volume IoU on the
64^3 cell centres of the unit cube [-0.5, 0.5]^3, inside by generalised winding number.
The two samples are independent (seeds s and s + 1), so identical surfaces do not score 0:
the floor is about 0.5·sqrt(area / count), ~0.003 for a unit-diameter sphere at 100k points.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..geometry.mesh import Mesh
from ..geometry.mesh_to_sdf import points_inside
from ..geometry.normalise import fit_in_unit_box

MeshLike = Mesh | tuple[np.ndarray, np.ndarray]

SURFACE_POINTS = 100_000
F_SCORE_THRESHOLDS = (0.05, 0.02)
IOU_RESOLUTION = 64


@dataclass(frozen=True)
class GeometryScores:
    chamfer: float
    f_score_005: float
    f_score_002: float
    volume_iou: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def as_mesh(mesh: MeshLike) -> Mesh:
    return mesh if isinstance(mesh, Mesh) else Mesh(mesh[0], mesh[1])


def sample_surface(mesh: MeshLike, count: int = SURFACE_POINTS, seed: int = 0) -> np.ndarray:
    """(count, 3) points uniform by area: triangles chosen by area, barycentrics by the sqrt rule."""
    mesh = as_mesh(mesh)
    tri = mesh.vertices.astype(np.float64)[mesh.faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if not area.sum() > 0:
        raise ValueError("cannot sample a surface of zero area")
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(area)
    chosen = np.minimum(np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right"), len(area) - 1)
    r1, r2 = np.sqrt(rng.random(count)), rng.random(count)
    a, b, c = tri[chosen, 0], tri[chosen, 1], tri[chosen, 2]
    return (1 - r1)[:, None] * a + (r1 * (1 - r2))[:, None] * b + (r1 * r2)[:, None] * c


def nearest_distances(pred_points: np.ndarray, gt_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each predicted point to the nearest true point, and the other way round."""
    to_gt = cKDTree(gt_points).query(pred_points, workers=-1)[0]
    to_pred = cKDTree(pred_points).query(gt_points, workers=-1)[0]
    return to_gt, to_pred


def chamfer_from(to_gt: np.ndarray, to_pred: np.ndarray) -> float:
    return 0.5 * (float(np.mean(to_gt)) + float(np.mean(to_pred)))


def f_score_from(to_gt: np.ndarray, to_pred: np.ndarray, tau: float) -> float:
    precision = float(np.mean(to_gt < tau))
    recall = float(np.mean(to_pred < tau))
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def chamfer_distance(pred: MeshLike, gt: MeshLike, count: int = SURFACE_POINTS, seed: int = 0) -> float:
    """Chamfer distance of the two surfaces as given (no normalisation)."""
    return chamfer_from(*nearest_distances(sample_surface(pred, count, seed), sample_surface(gt, count, seed + 1)))


def f_score(pred: MeshLike, gt: MeshLike, tau: float, count: int = SURFACE_POINTS, seed: int = 0) -> float:
    """F-score at distance tau of the two surfaces as given (no normalisation)."""
    return f_score_from(*nearest_distances(sample_surface(pred, count, seed), sample_surface(gt, count, seed + 1)), tau)


def unit_cube_cell_centres(resolution: int = IOU_RESOLUTION) -> np.ndarray:
    c = (np.arange(resolution) + 0.5) / resolution - 0.5
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1).reshape(-1, 3)


def volume_iou(pred: MeshLike, gt: MeshLike, resolution: int = IOU_RESOLUTION) -> float:
    """IoU of the two solids on the cell centres of the unit cube (meshes as given)."""
    points = unit_cube_cell_centres(resolution)
    pred, gt = as_mesh(pred), as_mesh(gt)
    a = points_inside(pred.vertices, pred.faces, points)
    b = points_inside(gt.vertices, gt.faces, points)
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def evaluate_geometry(
    pred: MeshLike, gt: MeshLike, count: int = SURFACE_POINTS, seed: int = 0, resolution: int = IOU_RESOLUTION
) -> GeometryScores:
    """All geometric scores under the protocol above (each mesh normalised to the unit box first)."""
    pred, gt = fit_in_unit_box(as_mesh(pred)), fit_in_unit_box(as_mesh(gt))
    to_gt, to_pred = nearest_distances(sample_surface(pred, count, seed), sample_surface(gt, count, seed + 1))
    return GeometryScores(
        chamfer=chamfer_from(to_gt, to_pred),
        f_score_005=f_score_from(to_gt, to_pred, F_SCORE_THRESHOLDS[0]),
        f_score_002=f_score_from(to_gt, to_pred, F_SCORE_THRESHOLDS[1]),
        volume_iou=volume_iou(pred, gt, resolution),
    )
