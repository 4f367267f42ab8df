"""What the coarse stage optimises: the SAE latent (the method), or a plain SDF grid.

`LatentField` is the paper's parameterisation: SDF = Decoder(z), which keeps surfaces closed
and plausible under six sparse views. `GridField` optimises the grid values directly, with a
Laplacian smoothness term; it is the fallback when no trained SAE weights are installed, and
the baseline an SAE has to beat.

Both seal the grid's outer shell (positive SDF there), so FlexiCubes always returns a closed
surface even when a shape pushes against the grid boundary.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentdreamer.geometry.grid import voxel_size


def seal_boundary(sdf: torch.Tensor) -> torch.Tensor:
    """Outer shell of samples forced outside (>= half a cell), interior untouched."""
    n = sdf.shape[0]
    floor = torch.full_like(sdf, -float("inf"))
    floor[[0, -1]] = floor[:, [0, -1]] = floor[:, :, [0, -1]] = 0.5 * voxel_size(n)
    return torch.maximum(sdf, floor)


class LatentField:
    name = "sae-latent"

    def __init__(self, sae: torch.nn.Module, z0: torch.Tensor, resolution: int, prior_weight: float = 1e-3) -> None:
        self.sae = sae.eval().requires_grad_(False)
        self.z = z0.detach().clone().requires_grad_(True)
        self.resolution = resolution
        self.prior_weight = prior_weight

    def parameters(self) -> list[torch.Tensor]:
        return [self.z]

    def sdf(self) -> torch.Tensor:
        return seal_boundary(self.sae.decode_grid(self.z, self.resolution)[0])

    def regulariser(self, sdf: torch.Tensor) -> torch.Tensor:
        """Gaussian prior on z: stay where the decoder has seen shapes."""
        return self.prior_weight * self.z.square().mean()


class GridField:
    name = "sdf-grid"

    def __init__(self, sdf0: torch.Tensor, smooth_weight: float = 1.0) -> None:
        self.values = sdf0.detach().clone().requires_grad_(True)
        self.smooth_weight = smooth_weight

    def parameters(self) -> list[torch.Tensor]:
        return [self.values]

    def sdf(self) -> torch.Tensor:
        return seal_boundary(self.values)

    def regulariser(self, sdf: torch.Tensor) -> torch.Tensor:
        """Mean squared Laplacian, in units of cells: bumps that no view asked for cost."""
        kernel = torch.zeros(1, 1, 3, 3, 3, dtype=sdf.dtype, device=sdf.device)
        kernel[0, 0, 1, 1, 1] = -6.0
        for offset in ((0, 1, 1), (2, 1, 1), (1, 0, 1), (1, 2, 1), (1, 1, 0), (1, 1, 2)):
            kernel[(0, 0, *offset)] = 1.0
        lap = F.conv3d(sdf[None, None], kernel) / voxel_size(sdf.shape[0])
        return self.smooth_weight * lap.square().mean()
