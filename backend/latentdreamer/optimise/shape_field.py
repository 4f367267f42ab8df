"""What the coarse stage optimises: the SAE latent (the method), or a plain SDF grid.

`LatentField` is the paper's parameterisation: SDF = Decoder(z), which keeps surfaces closed
and plausible under six sparse views. `GridField` optimises the grid values directly, with a
Laplacian smoothness term; it is the fallback when no trained SAE weights are installed, and
the baseline an SAE has to beat.

Both seal the grid's outer shell (positive SDF there), so FlexiCubes always returns a closed
surface even when a shape pushes against the grid boundary.

Why `LatentField` decodes a band, not the grid: the SAE point decoder over all n^3 samples
was about 60 % of a coarse step at `standard`, yet FlexiCubes reads only the two ends of each
sign-changing edge, so every other sample gets a zero gradient and matters only by its sign.
Between full decodes the field evaluates the decoder only in a band and keeps the other
samples' last values, detached: the mesh and the gradient are the full decode's as long as no
sign changes outside the band. The band is every sample within `band_cells` cells of a corner
of a surface cube (where the surface moves) plus every sample whose value is within
`band_cells` cells of zero (where a new piece can appear away from the surface, as a chair's
leg does). A full decode runs every `refresh_steps` steps and whenever the surface reaches
the band's edge, and counts the samples whose sign changed outside the band since the last
one (`band_escapes`; each such refresh widens the band by a cell). A coarse step at
`standard` moves the SDF by at most ~0.2 cells (measured on the development meshes), so a
2-cell band refreshed every 8 steps has room to spare.

Both decodes read the feature grid through a `PointLookup` of the grid's fixed samples (and
of the band's, rebuilt at each full decode): grid_sample's backward was a third of a band
decode on a CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentdreamer.geometry.grid import PointLookup, grid_points_tensor, voxel_size

BAND_CELLS = 2
"""Half-width of the decoded band, in cells (around the surface cubes' corners, and in value)."""
REFRESH_STEPS = 8
"""A full decode at least this often, so a surface that appears away from the band is found
(presets.Preset.band_refresh_steps sets it per preset; 0: a full decode every step)."""


def seal_boundary(sdf: torch.Tensor) -> torch.Tensor:
    """Outer shell of samples forced outside (>= half a cell), interior untouched."""
    n = sdf.shape[0]
    floor = torch.full_like(sdf, -float("inf"))
    floor[[0, -1]] = floor[:, [0, -1]] = floor[:, :, [0, -1]] = 0.5 * voxel_size(n)
    return torch.maximum(sdf, floor)


def surface_corners(sdf: torch.Tensor) -> torch.Tensor:
    """(n, n, n) bool: the samples that are corners of a cube with both signs (all FlexiCubes
    reads); taken of the sealed grid, where a shape touching the boundary has its surface."""
    inside = (sdf < 0).to(sdf.dtype)[None, None]
    mixed = (F.max_pool3d(inside, 2, stride=1) - (-F.max_pool3d(-inside, 2, stride=1))) > 0
    return F.max_pool3d(mixed.to(sdf.dtype), 2, stride=1, padding=1)[0, 0] > 0


def dilate(mask: torch.Tensor, cells: int) -> torch.Tensor:
    """A bool (n, n, n) mask grown by `cells` samples along every axis (a cube neighbourhood)."""
    if cells <= 0:
        return mask
    grown = F.max_pool3d(mask.to(torch.float32)[None, None], 2 * cells + 1, stride=1, padding=cells)
    return grown[0, 0] > 0


class LatentField:
    """SDF = Decoder(z) on the grid, decoded in a band around the surface (module docstring)."""

    name = "sae-latent"

    def __init__(
        self,
        sae: torch.nn.Module,
        z0: torch.Tensor,
        resolution: int,
        prior_weight: float = 1e-3,
        band_cells: int = BAND_CELLS,
        refresh_steps: int = REFRESH_STEPS,
    ) -> None:
        self.sae = sae.eval().requires_grad_(False)
        self.z = z0.detach().clone().requires_grad_(True)
        self.resolution = resolution
        self.prior_weight = prior_weight
        self.band_cells = band_cells
        self.refresh_steps = refresh_steps
        self.points = grid_points_tensor(resolution, z0.dtype).to(z0.device)
        self.known: torch.Tensor | None = None
        """The last full decode, detached: what samples outside the band keep."""
        self.band = torch.zeros(resolution**3, dtype=torch.bool, device=z0.device)
        self.band_index = self.band.nonzero().squeeze(1)
        self.lookup: PointLookup | None = None
        """Every sample's place in the SAE's feature grid (built at the first decode)."""
        self.band_lookup: PointLookup | None = None
        self.steps_since_refresh = 0
        self.full_decodes = 0
        """Calls that decoded every sample (the others decoded the band)."""
        self.band_escapes = 0
        """Samples whose sign changed outside the band while it was in use (should stay 0)."""

    def parameters(self) -> list[torch.Tensor]:
        return [self.z]

    def sdf(self, exact: bool = False) -> torch.Tensor:
        """The sealed SDF grid; `exact` decodes every sample (else the band, when it is valid)."""
        features = self.sae.trunk(self.z)
        if exact or self.known is None or self.steps_since_refresh >= self.refresh_steps:
            return self._full_decode(features)
        t = self.sae.config.truncation
        near = self.sae.decode_points(self.z, self.points[self.band_index][None], features, self.band_lookup)[0]
        near = near.clamp(-t, t)
        grid = self.known.reshape(-1).index_put((self.band_index,), near).reshape(self.known.shape)
        self.steps_since_refresh += 1
        sealed = seal_boundary(grid)
        if not self.band[surface_corners(sealed.detach()).reshape(-1)].all():
            return self._full_decode(features)
        return sealed

    def _full_decode(self, features: torch.Tensor) -> torch.Tensor:
        if self.lookup is None or self.lookup.n != features.shape[-1]:
            self.lookup = PointLookup.at(self.points, features.shape[-1])
        t = self.sae.config.truncation
        n = self.resolution
        grid = self.sae.decode_points(self.z, self.points[None], features, self.lookup)[0].reshape(n, n, n).clamp(-t, t)
        fresh = grid.detach()
        if self.known is not None and self.steps_since_refresh > 0:
            escaped = int(((fresh < 0) != (self.known < 0)).reshape(-1)[~self.band].sum())
            self.band_escapes += escaped
            self.band_cells += int(escaped > 0)
        self.known = fresh
        sealed = seal_boundary(grid)
        near_zero = fresh.abs() < self.band_cells * voxel_size(self.resolution)
        self.band = (dilate(surface_corners(sealed.detach()), self.band_cells) | near_zero).reshape(-1)
        self.band_index = self.band.nonzero().squeeze(1)
        self.band_lookup = self.lookup.rows(self.band_index)
        self.steps_since_refresh = 0
        self.full_decodes += 1
        return sealed

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

    def sdf(self, exact: bool = False) -> torch.Tensor:
        """The sealed grid (always exact: `exact` is there so both fields answer alike)."""
        return seal_boundary(self.values)

    def regulariser(self, sdf: torch.Tensor) -> torch.Tensor:
        """Mean squared Laplacian, in units of cells: bumps that no view asked for cost."""
        kernel = torch.zeros(1, 1, 3, 3, 3, dtype=sdf.dtype, device=sdf.device)
        kernel[0, 0, 1, 1, 1] = -6.0
        for offset in ((0, 1, 1), (2, 1, 1), (1, 0, 1), (1, 2, 1), (1, 1, 0), (1, 1, 2)):
            kernel[(0, 0, *offset)] = 1.0
        lap = F.conv3d(sdf[None, None], kernel) / voxel_size(sdf.shape[0])
        return self.smooth_weight * lap.square().mean()
