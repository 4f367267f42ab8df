"""Per-view camera corrections, optimised with the shape: the six views are a little off.

Generated views do not sit exactly where the prior cameras say: each is framed slightly off
(a shift of a percent of the side, a degree of turn, a percent of zoom) and the whole set
may have been made from a few degrees higher or lower. Fitting one shape to six images
that disagree carves away whatever any view misses; letting each view move a little costs
four numbers per view and one for the set (render/cameras.adjusted), and a Gaussian prior on
them (`regulariser`) keeps them at zero unless the images ask for more.

Gauge: a zoom common to every view is the object's own size, which the views cannot tell
from the cameras, so the zooms are used with their mean removed; shifts and turns common to
all views are not rigid motions of the object (the cameras circle it) and stay free, held
only by the prior.
"""

from __future__ import annotations

import math

import torch

from latentdreamer.render.cameras import Cameras, adjusted

SHIFT_SCALE = 0.02
"""Prior standard deviation of a view's shift, NDC units (1 % of the image side)."""
ROTATION_SCALE = math.radians(1.0)
LOG_SCALE_SCALE = 0.01
ELEVATION_SCALE = math.radians(4.0)
LEARNING_RATE = 1e-3
"""Adam step for every correction (NDC units and radians: ~0.03 px at 128 px per step)."""


class ViewCorrections:
    """The corrections of one set of views, starting at zero (the cameras as given)."""

    def __init__(
        self, views: int, device: torch.device, weight: float, start: int = 0, dtype: torch.dtype = torch.float32
    ) -> None:
        zeros = lambda *shape: torch.zeros(*shape, device=device, dtype=dtype, requires_grad=True)  # noqa: E731
        self.shift = zeros(views, 2)
        self.rotation = zeros(views)
        self.log_scale = zeros(views)
        self.elevation = zeros(())
        self.weight = weight
        """Weight of the Gaussian prior against the image losses (0: no prior)."""
        self.start = start
        """The coarse step from which the corrections move (before it the cameras are exact)."""

    def parameters(self) -> list[torch.Tensor]:
        return [self.shift, self.rotation, self.log_scale, self.elevation]

    def param_group(self) -> dict:
        """The corrections as one optimiser parameter group, with their own step size."""
        return {"params": self.parameters(), "lr": LEARNING_RATE}

    @property
    def zoom(self) -> torch.Tensor:
        """Each view's log zoom with their mean removed (the gauge in the module docstring)."""
        return self.log_scale - self.log_scale.mean()

    def cameras(self, base: Cameras) -> Cameras:
        """`base` as these views show it (differentiable in the corrections)."""
        return adjusted(base, self.shift, self.rotation, self.zoom, self.elevation)

    def regulariser(self) -> torch.Tensor:
        """weight x the mean squared correction in units of its prior scale."""
        terms = torch.cat(
            [
                (self.shift / SHIFT_SCALE).flatten(),
                self.rotation / ROTATION_SCALE,
                self.zoom / LOG_SCALE_SCALE,
                (self.elevation / ELEVATION_SCALE).reshape(1),
            ]
        )
        return self.weight * terms.square().mean()

    def summary(self, resolution: int) -> dict[str, float]:
        """What the corrections came to, in units a person reads: the largest shift in pixels
        at `resolution`, the largest turn and the elevation in degrees, the largest zoom in %."""
        with torch.no_grad():
            zoom = self.zoom
            return {
                "view_shift_px": round(float(self.shift.norm(dim=1).max()) * resolution / 2, 2),
                "view_turn_deg": round(math.degrees(float(self.rotation.abs().max())), 2),
                "view_zoom_pct": round(100 * (math.exp(float(zoom.abs().max())) - 1), 2),
                "view_elevation_deg": round(math.degrees(float(self.elevation)), 2),
            }

    def detached(self, base: Cameras) -> Cameras:
        """The corrected cameras as fixed values, for the stages that do not move them."""
        with torch.no_grad():
            return self.cameras(base)
