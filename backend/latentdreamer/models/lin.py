"""LIN, the latent initialisation network (docs/design.md §2 item 3): six views -> an SAE latent.

Layout: a small per-view CNN turns each 64 px view (decoded normals, mask, a "normals
present" flag) into an 8 x 8 grid of tokens; every token gets a learned position and a
learned view embedding (the six prior cameras are fixed, so the view index *is* the
camera); self-attention layers mix the tokens of all views, which is where the views are
put in correspondence; then one learned query per 2 x 2 x 2 block of the 8^3 latent
cross-attends to the tokens and a linear layer emits that block's 8 x 8 numbers. Queries
per latent block rather than one pooled vector: the latent is spatial, and a per-block
query keeps the head small (a dense 4096-wide output layer would hold most of the
parameters) while letting each block look at the image regions that show it.

Images follow the render convention (render/views.py): (B, 6, H, W, C) with row 0 at the
bottom, normals encoded (n + 1) / 2 on a 0.5 grey background. Without normals (a user's RGB
views), pass `normals=None`: the flag tells the network, which is trained for that case.

The shipped LIN is residual (`residual="hull"`): its output is added to the SAE encoding of
the six masks' visual hull (`hull_latent`), the start the pipeline uses without a LIN. On
random shapes that encoding is already far closer to the truth (latent L2 ~0.05, decoded IoU
~0.77) than a from-scratch LIN gets in an hour of CPU training (L2 ~0.30, IoU ~0.37 after
230 steps), so the network spends its capacity on what silhouettes cannot say.

A LIN is only meaningful with the SAE whose encoder gave its targets, so its model card
records that SAE's sha256 and `load_lin` refuses any other SAE.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from latentdreamer.config import strict_from_dict
from latentdreamer.models.sae import SAE
from latentdreamer.models.weights_file import WeightsError, load_weights, read_card, save_weights
from latentdreamer.render.normal_maps import decode_normals

IN_CHANNELS = 5
"""Per pixel: camera-space normal (3, zero where absent), mask, normals-present flag."""


@dataclass(frozen=True)
class LINConfig:
    """Architecture of one LIN; stored in checkpoints and model cards as JSON."""

    image_size: int = 64
    views: int = 6
    cnn_channels: tuple[int, ...] = (32, 64, 128)
    """Widths after each stride-2 stage; three stages take 64 px to 8 x 8 tokens per view."""
    width: int = 128
    heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    mlp_ratio: int = 2
    latent_channels: int = 8
    latent_size: int = 8
    block: int = 2
    """Side of the latent block one query predicts (latent_size must divide by it)."""
    groups: int = 8
    residual: str = "none"
    """"none": the network's output is the latent. "hull": it is a correction added to the SAE
    encoding of the masks' visual hull (`hull_latent`), with the head zero-initialised, so an
    untrained LIN already starts where the pipeline would without it and training only has
    to learn what the silhouettes miss (concavities, from the normals)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "cnn_channels", tuple(self.cnn_channels))
        if self.residual not in ("none", "hull"):
            raise ValueError(f"residual must be 'none' or 'hull', got {self.residual!r}")
        if self.image_size % (2 ** len(self.cnn_channels)):
            raise ValueError(
                f"image_size {self.image_size} must divide by 2^{len(self.cnn_channels)} (one halving per CNN stage)"
            )
        if self.latent_size % self.block:
            raise ValueError(f"latent_size {self.latent_size} must divide by block {self.block}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must divide by heads {self.heads}")

    @property
    def latent_shape(self) -> tuple[int, int, int, int]:
        return (self.latent_channels, self.latent_size, self.latent_size, self.latent_size)

    @property
    def tokens_per_view(self) -> int:
        return (self.image_size // 2 ** len(self.cnn_channels)) ** 2

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cnn_channels"] = list(self.cnn_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> LINConfig:
        return strict_from_dict(cls, d, "LIN config")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class ResBlock2d(nn.Module):
    """Pre-activation residual block; GroupNorm keeps a sample's output independent of its batch."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm1 = _norm(channels, groups)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = _norm(channels, groups)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))


class ViewEncoder(nn.Module):
    """(N, 5, H, W) -> (N, tokens, width): stride-2 convs, a residual block after all but the first."""

    def __init__(self, cfg: LINConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = IN_CHANNELS
        for i, c in enumerate(cfg.cnn_channels):
            layers.append(nn.Conv2d(c_in, c, 3, stride=2, padding=1))
            if i:
                layers.append(ResBlock2d(c, cfg.groups))
            else:
                layers.append(nn.SiLU())
            c_in = c
        self.trunk = nn.Sequential(*layers)
        self.norm = _norm(c_in, cfg.groups)
        self.proj = nn.Conv2d(c_in, cfg.width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.silu(self.norm(self.trunk(x)))).flatten(2).transpose(1, 2)


class LIN(nn.Module):
    """Views -> SAE latent (B, 8, 8, 8, 8)."""

    def __init__(self, cfg: LINConfig) -> None:
        super().__init__()
        self.config = cfg
        d = cfg.width
        self.view_encoder = ViewEncoder(cfg)
        self.position = nn.Parameter(torch.randn(cfg.tokens_per_view, d) * 0.02)
        self.view_embedding = nn.Parameter(torch.randn(cfg.views, d) * 0.02)
        layer = dict(
            d_model=d, nhead=cfg.heads, dim_feedforward=cfg.mlp_ratio * d, dropout=0.0, batch_first=True, norm_first=True
        )
        self.mixer = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer), cfg.encoder_layers, enable_nested_tensor=False)
        blocks = (cfg.latent_size // cfg.block) ** 3
        self.queries = nn.Parameter(torch.randn(blocks, d) * 0.02)
        self.readout = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer), cfg.decoder_layers)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.latent_channels * cfg.block**3)
        if cfg.residual == "hull":
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @staticmethod
    def prepare_views(mask: torch.Tensor, normals: torch.Tensor | None, has_normals: torch.Tensor | None = None) -> torch.Tensor:
        """mask (B, V, H, W, 1) in [0, 1] and encoded normals (B, V, H, W, 3) or None ->
        network input (B, V, 5, H, W). Absent normals (None, or objects whose `has_normals`
        (B,) is False) are zeros with the flag off."""
        b, v, h, w, _ = mask.shape
        if normals is None:
            flag = mask.new_zeros(b)
            normals = mask.new_full((b, v, h, w, 3), 0.5)
        else:
            flag = mask.new_ones(b) if has_normals is None else has_normals.to(mask)
        f = flag.view(b, 1, 1, 1, 1)
        n = decode_normals(normals.to(mask)) * f
        return torch.cat([n, mask, f.expand(b, v, h, w, 1)], dim=-1).permute(0, 1, 4, 2, 3).contiguous()

    def forward(self, views: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        """views (B, V, 5, H, W) from `prepare_views` -> latent (B, C, L, L, L).

        `base`: with residual "hull", the SAE latent of the masks' visual hull (`hull_latent`)."""
        cfg = self.config
        if cfg.residual == "hull" and base is None:
            raise ValueError(
                "this LIN corrects the SAE encoding of the visual hull: pass base=hull_latent(sae, mask) (or sae= to predict)"
            )
        b, v = views.shape[:2]
        if v != cfg.views or views.shape[-1] != cfg.image_size or views.shape[-2] != cfg.image_size:
            raise ValueError(
                f"this LIN reads {cfg.views} views of {cfg.image_size}^2 px, got {v} of {tuple(views.shape[-2:])}; "
                "resize the views with torch.nn.functional.interpolate(..., mode='area') first"
            )
        tokens = self.view_encoder(views.flatten(0, 1))  # (B*V, T, d)
        tokens = tokens + self.position
        tokens = tokens.reshape(b, v, -1, cfg.width) + self.view_embedding[:, None, :]
        memory = self.mixer(tokens.reshape(b, -1, cfg.width))
        out = self.readout(self.queries.expand(b, -1, -1), memory)
        blocks = self.head(self.norm(out))  # (B, Q, C * k^3)
        g, k, c = cfg.latent_size // cfg.block, cfg.block, cfg.latent_channels
        z = blocks.reshape(b, g, g, g, c, k, k, k).permute(0, 4, 1, 5, 2, 6, 3, 7)
        z = z.reshape(b, c, cfg.latent_size, cfg.latent_size, cfg.latent_size)
        return z + base if cfg.residual == "hull" else z

    def predict(
        self, mask: torch.Tensor, normals: torch.Tensor | None, sae: SAE | None = None, base: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Rendered-convention views -> latent, without gradients (the pipeline's call).

        A residual LIN needs its SAE (to encode the visual hull) or the hull latent itself; a
        LIN from `load_lin` given the SAE's weights path finds that SAE on its own."""
        with torch.no_grad():
            if self.config.residual == "hull" and base is None:
                sae = sae or self._paired_sae(mask.device)
                if sae is not None:
                    base = hull_latent(sae, mask)
            return self(self.prepare_views(mask, normals), base)

    def _paired_sae(self, device: torch.device) -> SAE | None:
        """The SAE load_lin paired this LIN with, loaded once; kept out of the module tree so
        it is neither in state_dict() nor moved or trained with the LIN."""
        path = self.__dict__.get("paired_sae_path")
        if path is None:
            return None
        if "_paired_sae_model" not in self.__dict__:
            from latentdreamer.models.trained_sae import load_sae

            self.__dict__["_paired_sae_model"] = load_sae(path, device)
        return self.__dict__["_paired_sae_model"]


def hull_latent(sae: SAE, mask: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """SAE encoding of the visual hull of each object's six masks (B, 6, H, W, 1) in the prior
    cameras, carved at the SAE's resolution. An empty hull (masks that share no volume) is
    encoded as empty space."""
    from latentdreamer.geometry.sdf_from_occupancy import occupancy_to_sdf
    from latentdreamer.render.cameras import prior_cameras
    from latentdreamer.render.visual_hull import visual_hull_occupancy

    r = sae.config.resolution
    cams = prior_cameras()
    grids = []
    for views in mask:
        occ = visual_hull_occupancy(views.float(), cams, r, threshold)
        grids.append(
            torch.from_numpy(occupancy_to_sdf(occ)).float() if occ.any() else torch.full((r, r, r), sae.config.truncation)
        )
    with torch.no_grad():
        mean, _ = sae.encode(torch.stack(grids).to(mask.device))
    return mean


def latent_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The paper's L2 against the SAE encoder's mean, averaged over latent elements."""
    return (pred - target).square().mean()


# --- weights ------------------------------------------------------------------------------

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_LIN_WEIGHTS = WEIGHTS_DIR / "lin.safetensors"


def export_lin(model: LIN, path: str | os.PathLike, sae_sha256: str, card: dict[str, Any]) -> Path:
    """Write weights + card; the card names the SAE (by the sha256 of its weights) it pairs with."""
    return save_weights(
        path, model.state_dict(), {**card, "config": model.config.to_dict(), "model": "lin", "sae_sha256": sae_sha256}
    )


def check_pairing(lin_card: dict[str, Any], sae_sha256: str, lin_name: str = "LIN") -> None:
    """Refuse a LIN with an SAE other than the one it was trained against."""
    expected = lin_card.get("sae_sha256")
    if expected != sae_sha256:
        raise WeightsError(
            f"{lin_name} was trained against the SAE with sha256 {expected}, but the SAE given has sha256 "
            f"{sae_sha256}. A LIN predicts latents of one specific SAE; with another it gives meaningless "
            "starting points. Use the SAE weights it was trained with, or retrain the LIN for this SAE "
            "(`latentdreamer train lin --config configs/lin/lin.json --sae SAE.safetensors --out DIR`)."
        )


def load_lin(
    path: str | os.PathLike | None = None,
    sae_card: dict[str, Any] | str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> LIN:
    """The LIN of a weights file, in eval mode, checksum verified and checked against its SAE.

    `sae_card` is the SAE's model card (a dict or the SAE weights' path, whose card is read);
    None checks against the shipped SAE (models/trained_sae.DEFAULT_SAE_WEIGHTS). Given a path,
    the LIN's `predict` loads that SAE itself when it needs the hull latent.
    """
    from latentdreamer.models.trained_sae import DEFAULT_SAE_WEIGHTS

    path = Path(path or DEFAULT_LIN_WEIGHTS)
    sae_path = None
    if not isinstance(sae_card, dict):
        sae_path = Path(sae_card or DEFAULT_SAE_WEIGHTS)
        sae_card = read_card(sae_path)
    tensors, card = load_weights(path, device)
    if card.get("model") != "lin":
        raise WeightsError(f"{path} holds a {card.get('model')!r} model, not a LIN")
    check_pairing(card, sae_card.get("sha256", ""), lin_name=str(path))
    model = LIN(LINConfig.from_dict(card["config"]))
    model.load_state_dict(tensors, strict=True)
    model.__dict__["paired_sae_path"] = sae_path  # predict() encodes the visual hull with it
    return model.to(device).eval()


def load_lin_checkpoint(run_dir: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[LIN, dict[str, Any]]:
    """The model of a LIN training run's latest checkpoint, in eval mode, and the run's SAE
    record ({"path", "sha256"}): the SAE it must be used with (and `predict` uses for the hull)."""
    from latentdreamer.models.checkpoint import META, load_checkpoint

    meta = json.loads((Path(run_dir) / META).read_text())
    model = LIN(LINConfig.from_dict(meta["model"]))
    rng = torch.get_rng_state()
    load_checkpoint(run_dir, model)
    torch.set_rng_state(rng)  # loading restores the trainer's RNG; a reader should not inherit it
    # The run's own SAE snapshot (train/lin.py SAE_SNAPSHOT) wherever the run folder now is.
    snapshot = Path(run_dir) / "sae.safetensors"
    model.__dict__["paired_sae_path"] = (
        snapshot if snapshot.is_file() and read_card(snapshot)["sha256"] == meta["sae"]["sha256"] else Path(meta["sae"]["path"])
    )
    return model.to(device).eval(), meta["sae"]


__all__ = [
    "DEFAULT_LIN_WEIGHTS",
    "LIN",
    "LINConfig",
    "check_pairing",
    "export_lin",
    "hull_latent",
    "latent_loss",
    "load_lin",
    "load_lin_checkpoint",
]
