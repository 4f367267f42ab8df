"""Finding the trained shape models (SAE, LIN) the pipeline runs with, if any are installed.

SAE: an explicit weights file or training-run folder if given, else $LATENTDREAMER_SAE_WEIGHTS,
else the shipped `latentdreamer/weights/sae.safetensors` (models/latent_ops.py). LIN: the
models package's `load_lin` once it lands. Without an SAE the pipeline still runs, optimising
the SDF grid directly from the visual hull (stats say which: `shape_prior`), so a checkout
without weights can be tested end to end; quality then is that of that baseline.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

NO_SAE = "none (no SAE weights installed: SDF grid optimised directly from the visual hull)"


@dataclass
class ShapePrior:
    sae: torch.nn.Module | None
    lin: torch.nn.Module | None
    source: str
    """Where the SAE came from, or why there is none (for stats and logs)."""


def _load_sae(path: Path | None, device: torch.device) -> tuple[torch.nn.Module | None, str]:
    from latentdreamer.models.latent_ops import DEFAULT_SAE_WEIGHTS, load_sae, load_sae_checkpoint
    from latentdreamer.models.weights import WeightsError

    if path is not None and path.is_dir():
        return load_sae_checkpoint(path, device), f"checkpoint {path}"
    if path is not None:
        return load_sae(path, device), str(path)
    try:
        return load_sae(None, device), str(DEFAULT_SAE_WEIGHTS)
    except WeightsError:
        return None, NO_SAE


def _load_lin(device: torch.device) -> torch.nn.Module | None:
    try:
        loader = getattr(importlib.import_module("latentdreamer.models.lin"), "load_lin")
    except (ImportError, AttributeError):
        return None
    try:
        return loader(device=device)
    except (FileNotFoundError, RuntimeError, OSError):
        return None


def load_shape_prior(
    device: torch.device, use_sae: bool = True, use_lin: bool = True, sae_path: str | os.PathLike | None = None
) -> ShapePrior:
    """`sae_path`: a weights file or a training-run folder; None looks in the usual places."""
    if not use_sae:
        return ShapePrior(None, None, "disabled (SDF grid optimised directly from the visual hull)")
    explicit = sae_path or os.environ.get("LATENTDREAMER_SAE_WEIGHTS") or None
    sae, source = _load_sae(Path(explicit) if explicit else None, device)
    lin = _load_lin(device) if (use_lin and sae is not None) else None
    return ShapePrior(sae=sae, lin=lin, source=source)
