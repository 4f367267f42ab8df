"""Choosing where tensors live, in one place, so `--device auto` means the same everywhere."""

from __future__ import annotations

import torch

from latentdreamer.errors import DeviceUnavailable, SettingsError

DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
"""What `--device` and the `device` setting accept; `auto` picks the first usable of CUDA,
Apple's MPS, the CPU."""


def mps_available() -> bool:
    """Apple's Metal backend, on a Mac with a torch built for it."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def auto_device(cuda_ok: bool, mps_ok: bool) -> str:
    """The `auto` rule in one place: CUDA, else MPS, else the CPU."""
    return "cuda" if cuda_ok else "mps" if mps_ok else "cpu"


def resolve_device(choice: str = "auto") -> torch.device:
    """`auto` takes CUDA when a usable GPU is present, else Apple's MPS, else the CPU; an
    explicit `cuda` or `mps` without one is a DeviceUnavailable (a user-facing error).

    An explicit choice that cannot be honoured fails loudly instead of silently running a
    job that would take minutes instead of seconds. On MPS, operations Metal lacks fall back
    to the CPU (`PYTORCH_ENABLE_MPS_FALLBACK`, set by `threads.configure_process` before
    torch loads).
    """
    if choice == "auto":
        return torch.device(auto_device(torch.cuda.is_available(), mps_available()))
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "mps":
        if not mps_available():
            raise DeviceUnavailable(
                "--device mps was requested but PyTorch sees no Apple MPS device "
                "(it needs a Mac with Apple silicon or a Metal GPU)"
            )
        return torch.device("mps")
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                f"--device cuda was requested but PyTorch sees no CUDA GPU (this PyTorch is {torch.__version__})",
                "use --device cpu or auto, or install a CUDA build of torch on a machine with an NVIDIA GPU",
            )
        return torch.device("cuda")
    raise SettingsError(f"unknown device {choice!r}", f"choose {', '.join(DEVICE_CHOICES[:-1])} or {DEVICE_CHOICES[-1]}")


def describe_device(device: torch.device) -> dict[str, str | int | None]:
    """Name and free memory, for the worker's hello and the CLI's summary."""
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        return {"type": "cuda", "name": torch.cuda.get_device_name(device), "free_bytes": free, "total_bytes": total}
    return {"type": "cpu", "name": "cpu", "threads": torch.get_num_threads(), "free_bytes": None, "total_bytes": None}
