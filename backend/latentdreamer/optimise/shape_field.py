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
`standard` moves the SDF by at most ~0.2 cells (measured on the development meshes), and the
rim check catches a surface that outruns the 2-cell band, so the periodic full decode is
there for new pieces: every 12 steps gave the same steps, IoU and no escape on the ten
development meshes as every 8 and 16, for ~4 % less time than 8 (2026-12-04).

Both decodes read the feature grid through the decoder's `FixedPoints` of the grid's samples
(and of the band's, taken at each full decode): the trilinear weights and the positional half
of the decoder's first layer do not change while z moves. A full decode runs without a
gradient and then decodes its new band with one (outside the band no cube has both signs, so
nothing there reaches the loss); between full decodes the check that the surface stays inside
the band reads only the rim cubes (those with corners both in and outside the band).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentdreamer.geometry.grid import grid_points_tensor, voxel_size
from latentdreamer.models.sae import FixedPoints

BAND_CELLS = 2
"""Half-width of the decoded band, in cells (around the surface cubes' corners, and in value)."""
REFRESH_STEPS = 12
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


def cube_corners(n: int) -> torch.Tensor:
    """((n-1)^3, 8) flat indices of every cube's corners in an n^3 grid (C order)."""
    base = torch.arange(n**3).reshape(n, n, n)[:-1, :-1, :-1].reshape(-1, 1)
    offsets = torch.tensor([(i * n + j) * n + k for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    return base + offsets


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
        self.cubes = cube_corners(resolution).to(z0.device)
        self.rim = self.cubes[:0]
        """Corners of the cubes that have corners both in and outside the band."""
        self.fixed: FixedPoints | None = None
        """Every sample's FixedPoints for the decoder (built at the first decode)."""
        self.band_fixed: FixedPoints | None = None
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
        self.steps_since_refresh += 1
        sealed = self._band_decode(features)
        inside = sealed.detach().reshape(-1)[self.rim] < 0
        if (inside.any(1) & ~inside.all(1)).any():  # the surface reached the band's edge
            return self._full_decode(features)
        return sealed

    def _band_decode(self, features: torch.Tensor) -> torch.Tensor:
        """The last full decode with the band decoded anew (the only samples with a gradient)."""
        t = self.sae.config.truncation
        near = self.sae.decode_points(self.z, self.points[self.band_index][None], features, self.band_fixed)[0]
        grid = self.known.reshape(-1).index_put((self.band_index,), near.clamp(-t, t)).reshape(self.known.shape)
        return seal_boundary(grid)

    def _full_decode(self, features: torch.Tensor) -> torch.Tensor:
        """Every sample decoded without a gradient, a new band chosen, then the band decoded:
        outside the band no cube has both signs, so FlexiCubes sends no gradient there."""
        if self.fixed is None:
            self.fixed = self.sae.fix_points(self.points, features)
        t = self.sae.config.truncation
        n = self.resolution
        with torch.no_grad():
            fresh = self.sae.decode_points(self.z, self.points[None], features, self.fixed)[0].reshape(n, n, n).clamp(-t, t)
        if self.known is not None and self.steps_since_refresh > 0:
            escaped = int(((fresh < 0) != (self.known < 0)).reshape(-1)[~self.band].sum())
            self.band_escapes += escaped
            self.band_cells += int(escaped > 0)
        self.known = fresh
        near_zero = fresh.abs() < self.band_cells * voxel_size(n)
        self.band = (dilate(surface_corners(seal_boundary(fresh)), self.band_cells) | near_zero).reshape(-1)
        self.band_index = self.band.nonzero().squeeze(1)
        self.band_fixed = None if self.fixed is None else self.fixed.rows(self.band_index)
        in_band = self.band[self.cubes]
        self.rim = self.cubes[in_band.any(1) & ~in_band.all(1)]
        self.steps_since_refresh = 0
        self.full_decodes += 1
        return self._band_decode(features)

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
