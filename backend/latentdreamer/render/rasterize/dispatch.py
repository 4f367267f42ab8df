"""Which forward pass runs: decided from the tensors' device and what is installed."""

from __future__ import annotations

import torch

BACKENDS = ("auto", "numba", "torch", "nvdiffrast")


def choose_backend(requested: str, device: torch.device | str, nvdiffrast_available: bool) -> str:
    """ "auto" -> nvdiffrast on CUDA when installed, numba on CPU, torch elsewhere.

    An explicit "numba" on another device is honoured (ids are computed on the CPU);
    an explicit "nvdiffrast" that cannot run is an error rather than a silent fallback.
    """
    if requested not in BACKENDS:
        raise ValueError(f"unknown rasteriser backend {requested!r}; choose one of {BACKENDS}")
    device = torch.device(device)
    if requested == "nvdiffrast":
        if device.type != "cuda":
            raise ValueError("the nvdiffrast backend needs CUDA tensors")
        if not nvdiffrast_available:
            raise ImportError("backend='nvdiffrast' but nvdiffrast.torch is not importable (install it yourself)")
        return requested
    if requested != "auto":
        return requested
    if device.type == "cuda" and nvdiffrast_available:
        return "nvdiffrast"
    return "numba" if device.type == "cpu" else "torch"
