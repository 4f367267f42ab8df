"""FlexiCubes: differentiable SDF-grid to mesh extraction (our own implementation)."""

from latentdreamer.geometry.flexicubes.extract import WEIGHT_SCALE, FlexiCubesMesh, flexicubes
from latentdreamer.geometry.flexicubes.regularisers import deviation_loss, sdf_sign_loss, weight_l2
from latentdreamer.geometry.flexicubes.table import CaseTable, case_table

__all__ = [
    "WEIGHT_SCALE",
    "CaseTable",
    "FlexiCubesMesh",
    "case_table",
    "deviation_loss",
    "flexicubes",
    "sdf_sign_loss",
    "weight_l2",
]
