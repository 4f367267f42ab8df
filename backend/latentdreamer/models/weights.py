"""Shipped weights: a safetensors file with a JSON model card beside it.

`name.safetensors` holds the tensors; `name.json` holds the card (config, training command,
data, steps, wall time, hardware, metrics) and the sha256 of the safetensors file. Loading
verifies the checksum before reading a byte of tensor data, so a truncated download, a Git
LFS pointer file or a stale card fails loudly instead of producing a silently broken model.
Used by every trained model (SAE, LIN).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


class WeightsError(RuntimeError):
    """A weights file or its model card is missing, unreadable or does not match."""


def card_path(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hardware_description() -> dict[str, Any]:
    """What the card records as 'hardware': enough to compare wall times between runs."""
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "cpu": platform.processor() or _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def code_commit() -> str | None:
    """The git commit of the checkout this code runs from (None outside a git checkout)."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def save_weights(path: str | os.PathLike, tensors: dict[str, torch.Tensor], card: dict[str, Any]) -> Path:
    """Write `path` (.safetensors) and its card; returns the card's path.

    Tensors are made contiguous CPU copies (safetensors refuses shared or strided storage).
    The write goes through a temporary name so a crash never leaves a half file under the
    real name.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"weights must be a .safetensors file, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(clean, str(tmp))
    os.replace(tmp, path)
    full_card = dict(card)
    full_card["file"] = path.name
    full_card["sha256"] = sha256_file(path)
    full_card["bytes"] = path.stat().st_size
    full_card["tensors"] = {k: list(v.shape) for k, v in sorted(clean.items())}
    cpath = card_path(path)
    tmp_card = cpath.with_name(cpath.name + ".tmp")
    tmp_card.write_text(json.dumps(full_card, indent=2, sort_keys=True) + "\n")
    os.replace(tmp_card, cpath)
    return cpath


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    cpath = card_path(path)
    if not cpath.is_file():
        raise WeightsError(
            f"model card {cpath} is missing; it must sit beside {path.name} "
            "(re-export the weights with latentdreamer.models.weights.save_weights)"
        )
    try:
        return json.loads(cpath.read_text())
    except json.JSONDecodeError as e:
        raise WeightsError(f"model card {cpath} is not valid JSON ({e})") from e


def load_weights(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """Return (tensors, card) after checking the file against the card's sha256."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            f"weights file {path} not found. Shipped weights live in the package "
            "(latentdreamer/weights/); if you cloned with Git LFS, run `git lfs pull`; "
            "otherwise train them (`latentdreamer train ...`) or pass --weights PATH."
        )
    card = read_card(path)
    expected = card.get("sha256")
    actual = sha256_file(path)
    if expected != actual:
        head = path.read_bytes()[:64]
        hint = (
            " The file looks like a Git LFS pointer: run `git lfs pull`."
            if head.startswith(b"version https://git-lfs")
            else " The file is corrupt or was replaced without re-exporting its card: "
            "re-download it or re-export with save_weights."
        )
        raise WeightsError(f"checksum mismatch for {path}: card says {expected}, file is {actual}.{hint}")
    return load_file(str(path), device=str(device)), card
