"""Optional CUDA backend through nvdiffrast, used only when the user has installed it.

nvdiffrast is under NVIDIA's Source Code License (non-commercial use only) and is built
from source; it is never bundled or required. Its buffer has the same layout as ours;
coverage at exact pixel-centre ties may differ (it uses fixed-point edge tests).
"""

from __future__ import annotations

import functools

import torch

_contexts: dict[torch.device, object] = {}


@functools.cache
def nvdiffrast_available() -> bool:
    """Whether `nvdiffrast.torch` imports; checked once per process."""
    try:
        import nvdiffrast.torch  # noqa: F401
    except Exception:  # a broken CUDA build raises more than ImportError
        return False
    return True


def rasterize_nvdiffrast(pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int]) -> torch.Tensor:
    """nvdiffrast's rasterize with a lazily created, cached CUDA context per device."""
    import nvdiffrast.torch as dr

    device = pos.device
    if device not in _contexts:
        _contexts[device] = dr.RasterizeCudaContext(device=device)
    rast, _ = dr.rasterize(_contexts[device], pos.contiguous(), tri.to(torch.int32).contiguous(), tuple(resolution))
    return rast
