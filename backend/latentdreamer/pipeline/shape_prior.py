"""Finding the trained shape models (SAE, LIN) the pipeline runs with, if any are installed.

SAE: an explicit weights file or training-run folder if given, else $LATENTDREAMER_SAE_WEIGHTS,
else the shipped `latentdreamer/weights/sae.safetensors` (models/latent_ops.py). LIN: the
shipped `latentdreamer/weights/lin.safetensors`, only if its card pairs it with that SAE. Without an SAE the pipeline still runs, optimising
the SDF grid directly from the visual hull (stats say which: `shape_prior`), so a checkout
without weights can be tested end to end; quality then is that of that baseline.
"""

from __future__ import annotations

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


def _load_lin(device: torch.device, sae_weights: Path | None, lin_path: Path | None) -> torch.nn.Module | None:
    """The given LIN (weights file or training-run folder), else the shipped one, if it was
    trained against this SAE; a LIN paired with another SAE gives meaningless latents."""
    from latentdreamer.models.lin import DEFAULT_LIN_WEIGHTS, load_lin, load_lin_checkpoint
    from latentdreamer.models.weights import WeightsError, sha256_file

    if sae_weights is None:
        return None
    if lin_path is not None and lin_path.is_dir():
        model, sae_record = load_lin_checkpoint(lin_path, device)
        if sae_record.get("sha256") != sha256_file(sae_weights):
            raise WeightsError(f"the LIN run {lin_path} was trained against another SAE than {sae_weights}")
        return model
    path = lin_path or DEFAULT_LIN_WEIGHTS
    if not path.is_file():
        return None
    try:
        return load_lin(path, sae_card=sae_weights, device=device)
    except WeightsError:
        if lin_path is not None:
            raise
        return None


def load_shape_prior(
    device: torch.device,
    use_sae: bool = True,
    use_lin: bool = True,
    sae_path: str | os.PathLike | None = None,
    lin_path: str | os.PathLike | None = None,
) -> ShapePrior:
    """`sae_path`, `lin_path`: weights files or training-run folders; None looks in the usual places."""
    if not use_sae:
        return ShapePrior(None, None, "disabled (SDF grid optimised directly from the visual hull)")
    explicit = sae_path or os.environ.get("LATENTDREAMER_SAE_WEIGHTS") or None
    sae, source = _load_sae(Path(explicit) if explicit else None, device)
    sae_file = Path(source) if sae is not None and Path(source).is_file() else None
    lin = _load_lin(device, sae_file, Path(lin_path) if lin_path else None) if use_lin else None
    return ShapePrior(sae=sae, lin=lin, source=source)
