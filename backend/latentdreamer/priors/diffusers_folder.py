"""Reading a diffusers-layout model folder under our weight rules (safetensors only, no hub code).

Shared by every prior loader so that the refusal of pickled weights and the fp16-only
fallback behave the same for each model.
"""

from __future__ import annotations

import json
from pathlib import Path

from latentdreamer.priors.errors import PriorInputError


def require_safetensors(folder: Path) -> None:
    """Weights are safetensors only: a folder with pickled weights and no safetensors is refused."""
    if not any(folder.glob("*.safetensors")):
        raise PriorInputError(
            f"no .safetensors weights in {folder}",
            "this loader never reads pickled weights (.bin/.pt); download the safetensors files "
            "with `latentdreamer weights download`",
            code="weights_missing",
        )


def variant(folder: Path) -> dict:
    """Load the full-precision file when there is one, else the fp16 variant a repo may ship alone."""
    plain = [p for p in folder.glob("*.safetensors") if ".fp16." not in p.name]
    return {} if plain else {"variant": "fp16"}


def read_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def require_folder(root: Path, model: str, parts: tuple[str, ...], files: tuple[str, ...], weight_parts: tuple[str, ...]) -> None:
    """Refuse, before any module loads, a folder that lacks a component or safetensors weights.

    `model` is the weights registry's name, so the hint points at the exact status command.
    """
    missing = [c for c in parts if not (root / c).is_dir()] + [f for f in files if not (root / f).is_file()]
    if missing:
        raise PriorInputError(
            f"{root} is not a complete {model} folder (missing: {', '.join(missing)})",
            f"run `latentdreamer weights status {model}` to see what is present and how to get the rest",
            code="weights_missing",
        )
    for part in weight_parts:
        require_safetensors(root / part)
