"""SAE: the signed-distance VAE that maps an SDF grid to 8 x 8^3 latent numbers and back.

Why a point decoder: a dense 3-D conv decoder to 64^3 costs ~1 s per sample forward +
backward on two CPU cores, and the generation pipeline decodes hundreds of times. Here the
conv trunk stops at a coarse feature grid (32^3, 16 channels) and a small MLP turns the
trilinearly interpolated feature plus a Fourier encoding of the position into an SDF value.
Training then touches only a few thousand points per shape (most near the surface, where the
mesh is decided), and decoding to a grid of any resolution is one batched MLP call at its
vertices. The plain dense decoder is kept as `decoder="dense"`: it is the speed baseline in
`benchmarks/bench_sae_decoder.py` and a fallback.

SDF values are in metres, negative inside (docs/design.md §4). The network sees and predicts
SDFs truncated at `truncation`: far values carry no shape information, and truncation keeps
the encoder's input in a fixed range for any object.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from latentdreamer.config import strict_from_dict
from latentdreamer.geometry.grid import HALF_EXTENT, PointLookup, grid_points_tensor, sample_grid
from latentdreamer.models.conv3d import SameConv3d


@dataclass(frozen=True)
class SAEConfig:
    """Architecture of one SAE; stored in checkpoints and model cards as JSON."""

    resolution: int = 64
    """Side of the SDF grid the encoder reads (32 or 64); the default decode resolution."""
    latent_channels: int = 8
    latent_size: int = 8
    encoder_channels: tuple[int, ...] = (32, 48)
    """Widths of the patchify stem (16^3) and of the residual blocks (8^3)."""
    decoder_channels: tuple[int, ...] = (48, 16, 16)
    """Widths at 8^3, 16^3 and 32^3 (the last is the feature grid)."""
    decoder: str = "points"
    """"points" (feature grid + per-point MLP) or "dense" (conv up to resolution^3)."""
    feature_channels: int = 16
    point_hidden: int = 64
    fourier_bands: int = 5
    truncation: float = 0.1
    """SDF values are clamped to +-truncation (metres) at the input and the output."""
    groups: int = 8

    def __post_init__(self) -> None:
        if self.resolution not in (32, 64):
            raise ValueError(f"resolution must be 32 or 64, got {self.resolution}")
        if self.latent_size != 8:
            raise ValueError("the encoder/decoder trunks are built for an 8^3 latent")
        if self.decoder not in ("points", "dense"):
            raise ValueError(f"decoder must be 'points' or 'dense', got {self.decoder!r}")
        object.__setattr__(self, "encoder_channels", tuple(self.encoder_channels))
        object.__setattr__(self, "decoder_channels", tuple(self.decoder_channels))

    @property
    def latent_shape(self) -> tuple[int, int, int, int]:
        return (self.latent_channels, self.latent_size, self.latent_size, self.latent_size)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["encoder_channels"] = list(self.encoder_channels)
        d["decoder_channels"] = list(self.decoder_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SAEConfig:
        return strict_from_dict(cls, d, "SAE config")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


SPARSE_MIN_RESOLUTION = 40
"""Grids up to this side are decoded densely; finer ones coarse to fine (SAE.decode_grid)."""
SPARSE_BAND_CELLS = 1.5
"""Half-width, in coarse cells, of the band around the surface evaluated at full resolution."""


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class ResBlock3d(nn.Module):
    """Pre-activation residual block: GroupNorm keeps it independent of the batch size."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm1 = _norm(channels, groups)
        self.conv1 = SameConv3d(channels, channels)
        self.norm2 = _norm(channels, groups)
        self.conv2 = SameConv3d(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


class Encoder(nn.Module):
    """SDF grid (B,1,R,R,R) -> posterior mean and log-variance, each (B,C,8,8,8).

    The stem is a patchify conv (kernel = stride = R/16), so no convolution runs at the
    input resolution, and the residual blocks run at 8^3: on a CPU a 3x3x3 conv at 16^3 with
    32 channels already costs as much as the whole rest of the encoder.
    """

    def __init__(self, cfg: SAEConfig) -> None:
        super().__init__()
        c16, c8 = cfg.encoder_channels
        patch = cfg.resolution // 16
        self.stem = nn.Conv3d(1, c16, patch, stride=patch)
        self.down = nn.Conv3d(c16, c8, 3, stride=2, padding=1)
        self.block8a = ResBlock3d(c8, cfg.groups)
        self.block8b = ResBlock3d(c8, cfg.groups)
        self.norm = _norm(c8, cfg.groups)
        self.out = nn.Conv3d(c8, 2 * cfg.latent_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.down(F.silu(self.stem(x)))
        h = self.block8b(self.block8a(h))
        mean, logvar = self.out(F.silu(self.norm(h))).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)


class DecoderTrunk(nn.Module):
    """Latent (B,C,8,8,8) -> feature grid (B,F,32,32,32): the part both decoders share.

    Upsampling is by kernel-2 stride-2 transposed convs (each output voxel a learned linear
    map of one input voxel): a 3x3x3 conv at 32^3 would cost more than everything else here.
    """

    def __init__(self, cfg: SAEConfig) -> None:
        super().__init__()
        c8, c16, c32 = cfg.decoder_channels
        self.conv_in = nn.Conv3d(cfg.latent_channels, c8, 3, padding=1)
        self.block8a = ResBlock3d(c8, cfg.groups)
        self.block8b = ResBlock3d(c8, cfg.groups)
        self.up16 = nn.ConvTranspose3d(c8, c16, 2, stride=2)
        self.block16 = ResBlock3d(c16, cfg.groups)
        self.up32 = nn.ConvTranspose3d(c16, c32, 2, stride=2)
        self.norm = _norm(c32, cfg.groups)
        self.out = nn.Conv3d(c32, cfg.feature_channels, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.block8b(self.block8a(self.conv_in(z)))
        h = self.block16(self.up16(h))
        h = self.up32(h)
        return self.out(F.silu(self.norm(h)))


@dataclass(frozen=True)
class FixedPoints:
    """Points a point decoder with fixed weights reads at every step (the coarse stage's grid
    samples): their place in the feature grid, and the positional half of the decoder's first
    layer, which depends on the points and the weights but not on the latent. Computing both
    once takes the Fourier encoding, two thirds of the first layer's inputs and grid_sample's scatter
    out of every step. Stale once the decoder's weights change."""

    lookup: PointLookup
    position_term: torch.Tensor
    """(N, hidden): first layer's weights on the position encoding, times it, plus its bias."""

    def rows(self, index: torch.Tensor) -> FixedPoints:
        """The same for a subset of the points (their positions here)."""
        return FixedPoints(self.lookup.rows(index), self.position_term[index])


class PointDecoder(nn.Module):
    """Feature grid + positions -> SDF at those positions (B,N)."""

    def __init__(self, cfg: SAEConfig) -> None:
        super().__init__()
        self.register_buffer(
            "freqs",
            (2.0 ** torch.arange(cfg.fourier_bands, dtype=torch.float32)) * (math.pi / HALF_EXTENT),
            persistent=False,
        )
        self.feature_channels = cfg.feature_channels
        d_in = cfg.feature_channels + 3 + 6 * cfg.fourier_bands
        h = cfg.point_hidden
        self.mlp = nn.Sequential(nn.Linear(d_in, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, 1))
        self.truncation = cfg.truncation

    def encode_positions(self, points: torch.Tensor) -> torch.Tensor:
        """(..., 3) -> (..., 3 + 6L): the points and their Fourier features."""
        ang = points.unsqueeze(-1) * self.freqs  # (..., 3, L)
        return torch.cat([points, ang.sin().flatten(-2), ang.cos().flatten(-2)], dim=-1)

    def fix(self, points: torch.Tensor, side: int) -> FixedPoints:
        """FixedPoints of (N,3) points in a side^3 feature grid, for this decoder's weights."""
        first = self.mlp[0]
        with torch.no_grad():
            term = self.encode_positions(points) @ first.weight[:, self.feature_channels :].T + first.bias
        return FixedPoints(PointLookup.at(points, side), term)

    @staticmethod
    def features_at(features: torch.Tensor, points: torch.Tensor, fixed: FixedPoints | None) -> torch.Tensor:
        """(B,N,C) features at the points, read through `fixed` when given."""
        return sample_grid(features, points) if fixed is None else fixed.lookup(features)

    def forward(self, features: torch.Tensor, points: torch.Tensor, fixed: FixedPoints | None = None) -> torch.Tensor:
        """`fixed` (self.fix of these points) skips what does not depend on the features."""
        feat = self.features_at(features, points, fixed)
        if fixed is None:
            return self.mlp(torch.cat([feat, self.encode_positions(points)], dim=-1)).squeeze(-1) * self.truncation
        first = self.mlp[0]
        hidden = feat @ first.weight[:, : self.feature_channels].T + fixed.position_term
        return self.mlp[1:](hidden).squeeze(-1) * self.truncation


class DenseHead(nn.Module):
    """Feature grid (32^3) -> SDF grid at resolution^3 by convolutions only (the baseline)."""

    def __init__(self, cfg: SAEConfig) -> None:
        super().__init__()
        c = cfg.feature_channels
        self.upsample = cfg.resolution // 32
        self.block = ResBlock3d(c, cfg.groups)
        self.norm = _norm(c, cfg.groups)
        self.out = nn.Conv3d(c, 1, 3, padding=1)
        self.truncation = cfg.truncation

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = features
        if self.upsample > 1:
            h = F.interpolate(h, scale_factor=self.upsample, mode="nearest")
        h = self.block(h)
        return self.out(F.silu(self.norm(h))) * self.truncation


class SAE(nn.Module):
    """The signed-distance VAE. Public calls take and return SDFs in metres."""

    def __init__(self, cfg: SAEConfig) -> None:
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.trunk = DecoderTrunk(cfg)
        self.head: nn.Module = PointDecoder(cfg) if cfg.decoder == "points" else DenseHead(cfg)

    # --- encoder -------------------------------------------------------------------------
    def encode(self, sdf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,R,R,R) or (B,1,R,R,R) SDF in metres -> (mean, logvar), each (B,8,8,8,8)."""
        if sdf.dim() == 4:
            sdf = sdf.unsqueeze(1)
        r = self.config.resolution
        if sdf.shape[-3:] != (r, r, r):
            raise ValueError(f"this SAE encodes {r}^3 grids, got {tuple(sdf.shape[-3:])}")
        t = self.config.truncation
        return self.encoder(sdf.clamp(-t, t) / t)

    # --- decoder -------------------------------------------------------------------------
    def decode_points(
        self,
        z: torch.Tensor,
        points: torch.Tensor,
        features: torch.Tensor | None = None,
        fixed: FixedPoints | None = None,
    ) -> torch.Tensor:
        """SDF (B,N) at object-frame points (B,N,3), before truncation (training target).

        `features` (= self.trunk(z)) lets a caller that decodes z twice run the trunk once;
        `fixed` (self.fix_points of points[0]) lets one that decodes the same points every
        step, with the weights fixed, skip what does not depend on z.
        """
        features = self.trunk(z) if features is None else features
        if isinstance(self.head, PointDecoder):
            return self.head(features, points, fixed)
        return sample_grid(self.head(features), points).squeeze(-1)

    def fix_points(self, points: torch.Tensor, features: torch.Tensor) -> FixedPoints | None:
        """FixedPoints of (N,3) points for `decode_points` (None for the dense head, which
        has nothing to fix); `features` is a trunk output, for the grid's side."""
        return self.head.fix(points, features.shape[-1]) if isinstance(self.head, PointDecoder) else None

    def decode_grid(
        self,
        z: torch.Tensor,
        n: int | None = None,
        chunk: int = 1 << 18,
        features: torch.Tensor | None = None,
        exact: bool = False,
    ) -> torch.Tensor:
        """Latent (B,8,8,8,8) -> SDF grid (B,n,n,n) in metres, clamped to +-truncation.

        Coarse to fine (unless `exact`): the grid is first decoded at about half the
        resolution, and only samples whose interpolated coarse value lies within
        SPARSE_BAND_CELLS coarse cells of the surface are evaluated by the point decoder;
        the rest keep the interpolated value, which there is far from zero, so signs and the
        extracted surface are unchanged while a 64^3 decode evaluates ~4x fewer points.
        Gradients reach z through both paths. Points go through the MLP in chunks so 128^3
        decodes without a multi-GB activation peak.
        """
        n = n or self.config.resolution
        t = self.config.truncation
        features = self.trunk(z) if features is None else features
        b = z.shape[0]
        if isinstance(self.head, DenseHead):
            grid = self.head(features)
            if grid.shape[-1] != n:
                pts = grid_points_tensor(n, grid.dtype).to(grid.device).expand(b, -1, -1)
                grid = sample_grid(grid, pts)
            return grid.reshape(b, n, n, n).clamp(-t, t)
        pts = grid_points_tensor(n, features.dtype).to(features.device)
        if exact or n <= SPARSE_MIN_RESOLUTION:
            batched = pts.expand(b, -1, -1)
            parts = [self.head(features, batched[:, s : s + chunk]) for s in range(0, len(pts), chunk)]
            return torch.cat(parts, dim=1).reshape(b, n, n, n).clamp(-t, t)
        coarse_n = (n + 1) // 2
        coarse = self.decode_grid(z, coarse_n, chunk, features)
        values = sample_grid(coarse.unsqueeze(1), pts.expand(b, -1, -1)).squeeze(-1)  # (B, n^3)
        band = SPARSE_BAND_CELLS * 2.0 * HALF_EXTENT / (coarse_n - 1)
        rows = []
        for i in range(b):
            near = (values[i].detach().abs() < band).nonzero().squeeze(1)
            sel = pts[near].unsqueeze(0)
            exact_vals = torch.cat(
                [self.head(features[i : i + 1], sel[:, s : s + chunk]) for s in range(0, len(near), chunk)] or [sel[..., 0]],
                dim=1,
            )
            rows.append(values[i].index_put((near,), exact_vals[0]))
        return torch.stack(rows).reshape(b, n, n, n).clamp(-t, t)

    def forward(
        self, sdf: torch.Tensor, points: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: (predicted SDF at points, posterior mean, logvar)."""
        mean, logvar = self.encode(sdf)
        return self.decode_points(sample_posterior(mean, logvar, generator), points), mean, logvar


def sample_posterior(mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The reparameterised draw z = mean + sigma * noise (differentiable in mean and logvar)."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + (0.5 * logvar).exp() * noise


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)), averaged over latent elements (so its weight is size-free)."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).mean()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "SAE",
    "SAEConfig",
    "count_parameters",
    "kl_divergence",
    "sample_posterior",
]
