"""Shipped weights: a safetensors file with a JSON model card beside it.

`name.safetensors` holds the tensors; `name.json` holds the card (config, training command,
data, steps, wall time, hardware, metrics) and the sha256 of the safetensors file. Loading
verifies the checksum before reading a byte of tensor data, so a truncated download, a Git
LFS pointer file or a stale card fails loudly instead of producing a silently broken model.
Used by every trained model (SAE, LIN). `verify_weights` is the same check without torch,
for the worker's `hello` and for checking a run's weights before any compute.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from latentdreamer.errors import UserFacingError

if TYPE_CHECKING:
    import torch

GIT_LFS_HINT = "the file is a Git LFS pointer, not the weights: run `git lfs pull` in the checkout"


class WeightsError(UserFacingError, RuntimeError):
    """A weights file or its model card is missing, unreadable or does not match.

    User-facing (the message names the file, the hint the fix): code `weights_missing`
    for a file that is not there, `weights_corrupt` for one that is there but wrong.
    """

    def __init__(self, message: str, hint: str = "", code: str = "weights_corrupt") -> None:
        super().__init__(message, hint, code)


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
    import torch

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
    from safetensors.torch import save_file

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


def read_card(path: str | os.PathLike, hint: str = "") -> dict[str, Any]:
    """The model card beside a weights file, or a WeightsError naming the card and the fix."""
    path = Path(path)
    cpath = card_path(path)
    hint = hint or "reinstall the backend, or re-export the weights with latentdreamer.models.weights_file.save_weights"
    if not cpath.is_file():
        raise WeightsError(f"model card {cpath} is missing; it must sit beside {path.name}", hint)
    try:
        card = json.loads(cpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"model card {cpath} is not readable JSON ({e})", hint) from e
    if not isinstance(card, dict):
        raise WeightsError(f"model card {cpath} is not a JSON object", hint)
    return card


def verify_weights(path: str | os.PathLike, hint: str = "") -> dict[str, Any]:
    """The card of `path` after checking the file against the card's sha256 (no torch needed).

    `hint` says how to get a good file where the caller knows better (the shipped weights:
    reinstall); a Git LFS pointer always gets the `git lfs pull` hint.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a .safetensors file" if path.is_dir() else "not found"
        raise WeightsError(
            f"weights file {path} {what}",
            hint or "check the path, or train and export the weights (`latentdreamer train ...`)",
            code="weights_missing",
        )
    card = read_card(path, hint)
    expected = card.get("sha256")
    try:
        actual = sha256_file(path)
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        raise WeightsError(f"weights file {path} cannot be read ({e.strerror or e})", hint or "check its permissions") from e
    if expected != actual:
        if head.startswith(b"version https://git-lfs"):
            raise WeightsError(
                f"weights file {path} does not match its card {card_path(path).name} (checksum mismatch)", GIT_LFS_HINT
            )
        raise WeightsError(
            f"weights file {path} is damaged or was replaced (checksum mismatch: its sha256 is {actual}, "
            f"its card {card_path(path).name} says {expected})",
            hint or "re-download or reinstall it, or re-export the weights with save_weights (which writes a new card)",
        )
    return card


def load_weights(
    path: str | os.PathLike, device: str | torch.device = "cpu", hint: str = ""
) -> tuple[dict[str, torch.Tensor], dict]:
    """Return (tensors, card) after checking the file against the card's sha256 (`verify_weights`)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    card = verify_weights(path, hint)
    try:
        return load_file(str(path), device=str(device)), card
    except (SafetensorError, OSError, ValueError) as e:  # matches its card, yet not safetensors: a bad export
        raise WeightsError(
            f"weights file {path} matches its card but is not a readable safetensors file ({e})",
            hint or "re-export the weights with save_weights",
        ) from e
