"""Imperfect oracle views: documented, seeded perturbations of the six views, level 0 to 3.

The oracle evaluation gives the reconstruction perfect views; a diffusion prior never does.
These perturbations imitate its errors one by one so their cost can be measured
(`eval generate --degrade LEVEL`, `benchmarks/bench_degrade.py`, docs/evaluation.md
"Imperfect views"). Each is a pure function of the views (or the mesh), its parameters and
a seed, and each can be switched off alone:

* `jitter`: per-view 2-D similarity (shift, in-plane rotation, scale) of every image of the
  view, normals turned with the rotation: a view framed slightly off;
* `scale`: one scale error for the whole set (the object rendered larger or smaller than
  the cameras assume), `elevation`: one elevation error of every camera;
* `colour`: per-view colour gain per channel and exposure, on the object only;
* `normal_blur`, `normal_noise`: blurred normal maps, angular noise on each normal;
* `masks`: per-view dilation or erosion of the mask, then feathered edges;
* `back`: the two back views (azimuths 150 and 210) rendered from a smoothly deformed copy
  of the mesh, as a prior invents the unseen side.

Random draws come from one stream per perturbation (seeded by the seed and the
perturbation's name), so switching one off leaves the others' draws as they were.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from latentdreamer.api import ViewSet
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.pipeline.oracle_views import render_mesh_views
from latentdreamer.render.cameras import PRIOR_AZIMUTHS_DEG, PRIOR_ELEVATIONS_DEG, orbit_cameras, prior_cameras

PERTURBATIONS = ("jitter", "scale", "elevation", "colour", "normal_blur", "normal_noise", "masks", "back")
BACK_VIEWS = (2, 3)
"""The views whose cameras look at the object's back (azimuths 150 and 210)."""
REFERENCE_SIZE = 320
"""Pixel sizes below are for a 320 px view (Zero123++'s tile) and scale with the view."""


@dataclass(frozen=True)
class Degradation:
    """Parameters of one level; a perturbation whose parameters are all 0 is off.

    Standard deviations are of per-view normal draws; `scale` and `elevation` are one
    error of this size for the whole set, its sign drawn per object.
    """

    level: int = 0
    jitter_shift: float = 0.0
    """Per-view shift, std as a fraction of the image side."""
    jitter_rotation_deg: float = 0.0
    jitter_scale: float = 0.0
    """Per-view scale, std of the log factor."""
    scale: float = 0.0
    """The object rendered at 1 +- this of the size the cameras assume."""
    elevation_deg: float = 0.0
    """Every camera rendered this much higher or lower than assumed."""
    colour_gain: float = 0.0
    """Per-view, per-channel gain, std of the log factor."""
    exposure_stops: float = 0.0
    """Per-view exposure, std in stops (factor 2^x)."""
    normal_blur_px: float = 0.0
    """Gaussian sigma of the normal-map blur."""
    normal_noise_deg: float = 0.0
    """Std of the angle each normal is turned by, per pixel."""
    mask_px: int = 0
    """Per-view dilation (+) or erosion (-) radius drawn uniformly from [-mask_px, mask_px]."""
    mask_feather_px: float = 0.0
    back_deform: float = 0.0
    """RMS displacement of the back views' mesh, as a fraction of the object's radius (0.5)."""

    def only(self, names: set[str] | frozenset[str]) -> Degradation:
        """This level with every perturbation not in `names` switched off."""
        unknown = set(names) - set(PERTURBATIONS)
        if unknown:
            raise ValueError(f"unknown perturbations {sorted(unknown)}; choose from {', '.join(PERTURBATIONS)}")
        off = {f: 0 for name, fields in _FIELDS.items() if name not in names for f in fields}
        return replace(self, **off)

    def active(self) -> list[str]:
        """The perturbations this level switches on."""
        return [name for name, fields in _FIELDS.items() if any(getattr(self, f) for f in fields)]

    def seeds_to_run(self, seeds: list[int]) -> list[int]:
        """The perturbation seeds worth a run: views no perturbation touches are the same
        under every seed, so those run once."""
        return seeds if self.active() else seeds[:1]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "active": self.active()}


_FIELDS = {
    "jitter": ("jitter_shift", "jitter_rotation_deg", "jitter_scale"),
    "scale": ("scale",),
    "elevation": ("elevation_deg",),
    "colour": ("colour_gain", "exposure_stops"),
    "normal_blur": ("normal_blur_px",),
    "normal_noise": ("normal_noise_deg",),
    "masks": ("mask_px", "mask_feather_px"),
    "back": ("back_deform",),
}

LEVELS: tuple[Degradation, ...] = (
    Degradation(0),
    Degradation(1, 0.005, 0.5, 0.005, 0.03, 2.0, 0.03, 0.1, 0.5, 3.0, 1, 0.5, 0.01),
    Degradation(2, 0.01, 1.0, 0.01, 0.06, 4.0, 0.06, 0.2, 1.0, 6.0, 2, 1.0, 0.02),
    Degradation(3, 0.02, 2.0, 0.02, 0.10, 8.0, 0.12, 0.4, 2.0, 12.0, 3, 2.0, 0.04),
)
"""0: exact. 1: about what a good multi-view prior gets wrong (sub-pixel to pixel framing,
a few per cent of scale, a few degrees). 2: twice that. 3: a bad sample. Our choice, not
measured on Zero123++ output: the curves say how fast quality falls, not where it sits."""


def level(number: int, only: set[str] | None = None) -> Degradation:
    """The parameters of level `number` (0-3), restricted to `only` when given."""
    if not 0 <= number < len(LEVELS):
        raise ValueError(f"degradation level {number} does not exist; choose 0 to {len(LEVELS) - 1}")
    return LEVELS[number] if only is None else LEVELS[number].only(only)


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _px(value: float, size: int) -> float:
    return value * size / REFERENCE_SIZE


# --- perturbations of the mesh render ---------------------------------------------------------


def smooth_field(points: np.ndarray, seed: int, waves: int = 4) -> np.ndarray:
    """A smooth 3-D vector field at `points` with unit RMS over random directions: per
    component a sum of `waves` sinusoids of one to two cycles across the object."""
    rng = _rng(seed, "back")
    out = np.zeros_like(points, dtype=np.float64)
    for c in range(3):
        k = rng.normal(size=(waves, 3))
        k *= (2 * math.pi * rng.uniform(1.0, 2.0, size=(waves, 1))) / np.linalg.norm(k, axis=1, keepdims=True)
        phase = rng.uniform(0, 2 * math.pi, size=waves)
        out[:, c] = np.sin(points @ k.T + phase).sum(1) * math.sqrt(2.0 / waves)
    return out / math.sqrt(3.0)


def render_degraded(mesh: Mesh, params: Degradation, seed: int, resolution: int) -> ViewSet:
    """The six views of `mesh` (fitted in the radius-0.5 sphere) with every perturbation of
    `params`: the render-level ones (scale, elevation, back) then the image-level ones."""
    rng = _rng(seed, "scale")
    factor = 1.0 + params.scale * rng.choice((-1.0, 1.0))
    lift = params.elevation_deg * _rng(seed, "elevation").choice((-1.0, 1.0))
    cameras = prior_cameras() if lift == 0 else orbit_cameras(PRIOR_AZIMUTHS_DEG, [e + lift for e in PRIOR_ELEVATIONS_DEG])
    scaled = mesh if factor == 1.0 else Mesh(mesh.vertices * factor, mesh.faces, mesh.colors, mesh.uvs, mesh.texture)
    views = render_mesh_views(scaled, cameras, resolution)
    if params.back_deform:
        radius = 0.5 * factor
        moved = scaled.vertices + params.back_deform * radius * smooth_field(scaled.vertices / radius, seed)
        deformed = Mesh(moved, scaled.faces, scaled.colors, scaled.uvs, scaled.texture)
        back = render_mesh_views(deformed, cameras[BACK_VIEWS[0] : BACK_VIEWS[-1] + 1], resolution)
        views = _splice(views, back, BACK_VIEWS)
    return degrade_views(views, params, seed)


def _splice(views: ViewSet, other: ViewSet, at: tuple[int, ...]) -> ViewSet:
    def put(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        if a is None:
            return None
        a = a.copy()
        a[list(at)] = b
        return a

    return ViewSet(put(views.rgb, other.rgb), put(views.alpha, other.alpha), put(views.normals, other.normals))


# --- perturbations of the images ----------------------------------------------------------------


def degrade_views(views: ViewSet, params: Degradation, seed: int) -> ViewSet:
    """The image-level perturbations of `params` applied to six views (pure: new arrays)."""
    rgb, alpha, normals = views.rgb, views.alpha, views.normals
    size = rgb.shape[1]
    if params.jitter_shift or params.jitter_rotation_deg or params.jitter_scale:
        rgb, alpha, normals = jitter_views(rgb, alpha, normals, params, seed)
    if params.colour_gain or params.exposure_stops:
        rgb = shift_colours(rgb, alpha, params.colour_gain, params.exposure_stops, seed)
    if normals is not None and params.normal_blur_px:
        normals = blur_normals(normals, alpha, _px(params.normal_blur_px, size))
    if normals is not None and params.normal_noise_deg:
        normals = noisy_normals(normals, alpha, params.normal_noise_deg, seed)
    if alpha is not None and (params.mask_px or params.mask_feather_px):
        alpha = reshape_masks(alpha, round(_px(params.mask_px, size)), _px(params.mask_feather_px, size), seed)
    return ViewSet(rgb=rgb, alpha=alpha, normals=normals)


def _warp(image: np.ndarray, matrix: np.ndarray, background: float) -> np.ndarray:
    """(H, W, C) sampled at matrix @ (x, y, 1) in normalised coordinates (y up), bilinear,
    with `background` outside."""
    h, w = image.shape[:2]
    ys, xs = torch.meshgrid(torch.linspace(1, -1, h), torch.linspace(-1, 1, w), indexing="ij")
    grid = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1) @ torch.as_tensor(matrix, dtype=torch.float32).T
    grid = torch.stack([grid[..., 0], -grid[..., 1]], dim=-1)[None]  # grid_sample's y points down
    src = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32) - background).permute(2, 0, 1)[None]
    out = torch.nn.functional.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out[0].permute(1, 2, 0).numpy() + background


def jitter_views(
    rgb: np.ndarray, alpha: np.ndarray | None, normals: np.ndarray | None, params: Degradation, seed: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Per view one similarity (shift, rotation, scale about the centre) of all its images;
    camera-space normals turn with the image so they stay the surface's."""
    rng = _rng(seed, "jitter")
    out_rgb = rgb.copy()
    out_alpha = None if alpha is None else alpha.copy()
    out_normals = None if normals is None else normals.copy()
    for k in range(len(rgb)):
        shift = rng.normal(0.0, params.jitter_shift * 2.0, size=2)  # the side is 2 in normalised units
        angle = math.radians(rng.normal(0.0, params.jitter_rotation_deg))
        scale = math.exp(rng.normal(0.0, params.jitter_scale))
        c, s = math.cos(angle), math.sin(angle)
        # The content moves by q = scale * R p + shift; each output pixel q samples p.
        inverse = np.array([[c, s], [-s, c]]) / scale
        matrix = np.concatenate([inverse, (-inverse @ shift)[:, None]], axis=1)
        out_rgb[k] = np.clip(_warp(rgb[k], matrix, 0.5), 0, 1)
        if alpha is not None:
            out_alpha[k] = np.clip(_warp(alpha[k][..., None], matrix, 0.0)[..., 0], 0, 1)
        if normals is not None:
            n = _warp(normals[k], matrix, 0.5) * 2 - 1
            x, y = n[..., 0].copy(), n[..., 1].copy()
            n[..., 0], n[..., 1] = c * x - s * y, s * x + c * y
            out_normals[k] = np.clip((n + 1) / 2, 0, 1)
    return out_rgb, out_alpha, out_normals


def shift_colours(rgb: np.ndarray, alpha: np.ndarray | None, gain: float, stops: float, seed: int) -> np.ndarray:
    """Per view a gain per channel and an exposure factor on the object's colour; the grey
    background (RGB over grey 0.5, alpha 0) stays as it is."""
    rng = _rng(seed, "colour")
    factors = np.exp(rng.normal(0.0, gain, size=(len(rgb), 1, 1, 3))) * 2.0 ** rng.normal(0.0, stops, size=(len(rgb), 1, 1, 1))
    a = np.ones(rgb.shape[:3] + (1,), np.float32) if alpha is None else alpha[..., None]
    premultiplied = rgb - (1 - a) * 0.5
    return (np.clip(premultiplied * factors, 0, a) + (1 - a) * 0.5).astype(np.float32)


def _decode(normals: np.ndarray) -> np.ndarray:
    return normals.astype(np.float64) * 2 - 1


def _encode(n: np.ndarray, alpha: np.ndarray | None, original: np.ndarray) -> np.ndarray:
    """Unit normals back to RGB on the foreground; pixels outside it keep their old value."""
    n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-8)
    encoded = ((n + 1) / 2).astype(np.float32)
    fg = (np.linalg.norm(_decode(original), axis=-1) > 0.2) if alpha is None else alpha > 0
    return np.where(fg[..., None], encoded, original).astype(np.float32)


def blur_normals(normals: np.ndarray, alpha: np.ndarray | None, sigma_px: float) -> np.ndarray:
    """Normal maps blurred (Gaussian, `sigma_px`) inside the object only, then renormalised."""
    n = _decode(normals)
    weight = (np.linalg.norm(n, axis=-1) > 0.2).astype(np.float64) if alpha is None else alpha.astype(np.float64)
    sigma = (0, sigma_px, sigma_px)
    blurred = ndimage.gaussian_filter(n * weight[..., None], sigma + (0,))
    norm = ndimage.gaussian_filter(weight, sigma)
    return _encode(blurred / np.maximum(norm, 1e-8)[..., None], alpha, normals)


def noisy_normals(normals: np.ndarray, alpha: np.ndarray | None, sigma_deg: float, seed: int) -> np.ndarray:
    """Each normal turned by a random angle (per-pixel, tangential Gaussian of `sigma_deg`)."""
    n = _decode(normals)
    n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-8)
    noise = _rng(seed, "normal_noise").normal(0.0, math.radians(sigma_deg), size=n.shape)
    noise -= (noise * n).sum(-1, keepdims=True) * n  # tangential: the length sets the angle
    return _encode(n + noise, alpha, normals)


def reshape_masks(alpha: np.ndarray, radius_px: int, feather_px: float, seed: int) -> np.ndarray:
    """Per view a dilation (+) or erosion (-) by a disc of radius drawn from
    [-radius_px, radius_px], then edges feathered by a Gaussian of `feather_px`."""
    rng = _rng(seed, "masks")
    out = alpha.astype(np.float32).copy()
    for k in range(len(alpha)):
        r = int(rng.integers(-radius_px, radius_px + 1)) if radius_px else 0
        mask = alpha[k]
        if r:
            inside = mask > 0.5
            yy, xx = np.mgrid[-abs(r) : abs(r) + 1, -abs(r) : abs(r) + 1]
            disc = yy**2 + xx**2 <= r * r
            moved = ndimage.binary_dilation(inside, disc) if r > 0 else ndimage.binary_erosion(inside, disc)
            mask = moved.astype(np.float32)
        if feather_px:
            mask = ndimage.gaussian_filter(mask.astype(np.float32), feather_px)
        out[k] = np.clip(mask, 0, 1)
    return out


def object_seed(seed: int, name: str) -> int:
    """One seed per object and run seed, so objects differ and reruns repeat."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % 2**32
