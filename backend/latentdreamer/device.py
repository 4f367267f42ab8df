"""Choosing where tensors live, in one place, so `--device auto` means the same everywhere."""

from __future__ import annotations

import torch


def resolve_device(choice: str = "auto") -> torch.device:
    """`auto` takes CUDA when a usable GPU is present, else the CPU; `cuda` without one is an error.

    An explicit `cuda` that cannot be honoured fails loudly instead of silently running a
    job that would take minutes instead of seconds.
    """
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                "--device cuda was requested but PyTorch sees no CUDA GPU; "
                f"this PyTorch is {torch.__version__} (install a CUDA build of torch, or use --device cpu)"
            )
        return torch.device("cuda")
    raise ValueError(f"unknown device {choice!r}; choose auto, cpu or cuda")


def describe_device(device: torch.device) -> dict[str, str | int | None]:
    """Name and free memory, for the worker's hello and the CLI's summary."""
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        return {"type": "cuda", "name": torch.cuda.get_device_name(device), "free_bytes": free, "total_bytes": total}
    return {"type": "cpu", "name": "cpu", "threads": torch.get_num_threads(), "free_bytes": None, "total_bytes": None}
