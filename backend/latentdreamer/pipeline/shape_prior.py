"""Finding the trained shape models (SAE, LIN) the pipeline runs with, if any are installed.

Order: the models package's own loaders (`load_sae` / `load_lin`, once those land), then the
shipped weights `latentdreamer/weights/{sae,lin}.safetensors` with their model cards, then
the path in $LATENTDREAMER_SAE_WEIGHTS. Without an SAE the pipeline still runs, optimising
the SDF grid directly from the visual hull (stats say which: `shape_prior`), so a checkout
without weights can be tested end to end; quality then is that of the baseline.
"""

from __future__ import annotations

import importlib
import inspect
import os
from dataclasses import dataclass
from pathlib import Path

import torch

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


@dataclass
class ShapePrior:
    sae: torch.nn.Module | None
    lin: torch.nn.Module | None
    source: str
    """Where the SAE came from, or why there is none (for stats and logs)."""


def _call_loader(module_name: str, function: str, device: torch.device) -> torch.nn.Module | None:
    try:
        loader = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError):
        return None
    kwargs = {"device": device} if "device" in inspect.signature(loader).parameters else {}
    try:
        model = loader(**kwargs)
    except (FileNotFoundError, RuntimeError, OSError):
        return None
    if isinstance(model, tuple):
        model = model[0]
    return model.to(device).eval() if model is not None else None


def _sae_from_file(path: Path, device: torch.device) -> torch.nn.Module | None:
    if not path.is_file():
        return None
    from latentdreamer.models.sae import SAE, SAEConfig
    from latentdreamer.models.weights import load_weights

    tensors, card = load_weights(path, device)
    config = card.get("config") or card.get("model") or {}
    sae = SAE(SAEConfig.from_dict(config.get("model", config)))
    sae.load_state_dict(tensors)
    return sae.to(device).eval()


def load_shape_prior(device: torch.device, use_sae: bool = True, use_lin: bool = True) -> ShapePrior:
    sae, source = None, "none (no SAE weights installed: SDF grid optimised directly from the visual hull)"
    if use_sae:
        sae = _call_loader("latentdreamer.models.sae", "load_sae", device)
        source = "latentdreamer.models.sae.load_sae" if sae is not None else source
        for path in (PACKAGE_WEIGHTS / "sae.safetensors", Path(os.environ.get("LATENTDREAMER_SAE_WEIGHTS", ""))):
            if sae is None and str(path) not in ("", ".") and path.is_file():
                sae, source = _sae_from_file(path, device), str(path)
    else:
        source = "disabled"
    lin = _call_loader("latentdreamer.models.lin", "load_lin", device) if (use_lin and sae is not None) else None
    return ShapePrior(sae=sae, lin=lin, source=source)
