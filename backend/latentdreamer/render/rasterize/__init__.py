"""Differentiable triangle rasterisation with nvdiffrast's interface and buffer layout.

    rast = rasterize(pos, tri, (H, W))            # (B, H, W, 4) = (u, v, z/w, triangle_id + 1)
    normals = interpolate(vertex_normals, rast, tri)
    image = antialias(shaded, rast, pos, tri)     # silhouette gradients reach pos

Buffer: row 0 is the bottom of the image (NDC y = -1); pixel (x, y) has its centre at
NDC ((x + 0.5) / W * 2 - 1, (y + 0.5) / H * 2 - 1); vertex 0 of a triangle has
(u, v) = (1, 0), vertex 1 (0, 1), vertex 2 (0, 0); u, v are perspective-correct and
differentiable in pos (`numba_barycentrics.py` for CPU tensors on the "numba" backend,
`rast_from_ids` otherwise); zero where nothing is drawn.

Coverage rules (identical in the numba and torch passes, bit for bit):
- a triangle with any vertex at w <= 0 is culled whole (no clipping at the eye plane);
  objects in front of the camera are unaffected; so are degenerate (zero screen area)
  and non-finite triangles;
- near/far: a pixel is drawn only where the interpolated z/w lies in [-1, 1], which is
  exact clipping against those planes for triangles in front of the eye;
- a pixel centre is covered when all three NDC edge functions are >= 0 after orienting
  the triangle (no backface culling); shared edges evaluate to exact negatives, so a
  closed mesh has no cracks, and centres exactly on an edge are covered by both sides;
- nearest z/w wins; equal z/w goes to the lower triangle id.

Backends: "numba" (compiled CPU pass, the default on CPU), "torch" (any device, the
fallback and the reference), "nvdiffrast" (CUDA; auto-selected when `nvdiffrast.torch`
imports). nvdiffrast is NVIDIA's non-commercial-licence library: optional, installed by
the user, never required. `interpolate` and `antialias` likewise take compiled passes for
CPU tensors (`numba_*.py`, first-order gradients) and the torch versions (`*_torch`, the
references, any order) elsewhere.

Threads: numba and torch each keep an OpenMP pool; with OpenMP's default active waiting,
one pool's idle workers spin while the other works. Set OMP_WAIT_POLICY=PASSIVE (before
the process starts) when both use more than one thread; on a machine already busier than
its core count, one thread each (torch.set_num_threads(1), numba.set_num_threads(1)) is
faster in wall time. Small jobs run on fewer numba threads by themselves (`numba_support.py`).
"""

from __future__ import annotations

import torch

from latentdreamer.render.rasterize.antialias import antialias
from latentdreamer.render.rasterize.barycentrics import rast_from_ids
from latentdreamer.render.rasterize.dispatch import BACKENDS, choose_backend
from latentdreamer.render.rasterize.interpolate import interpolate
from latentdreamer.render.rasterize.numba_barycentrics import rasterize_numba
from latentdreamer.render.rasterize.numba_forward import triangle_ids_numba
from latentdreamer.render.rasterize.nvdiffrast_backend import nvdiffrast_available, rasterize_nvdiffrast
from latentdreamer.render.rasterize.torch_forward import triangle_ids_torch

__all__ = ["BACKENDS", "antialias", "choose_backend", "interpolate", "rasterize", "triangle_ids"]


def triangle_ids(pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int], backend: str) -> torch.Tensor:
    """Visible triangle per pixel (B, H, W) int64, -1 where empty, from the "numba" or "torch" pass."""
    if backend == "numba":
        return triangle_ids_numba(pos, tri, resolution)
    if backend == "torch":
        return triangle_ids_torch(pos, tri, resolution)
    raise ValueError(f"no id pass for backend {backend!r}")


def rasterize(pos: torch.Tensor, tri: torch.Tensor, resolution: tuple[int, int], backend: str = "auto") -> torch.Tensor:
    """Clip-space positions (B, V, 4) and triangles (F, 3) int32 to the (B, H, W, 4) buffer."""
    if pos.dim() != 3 or pos.shape[-1] != 4:
        raise ValueError(f"pos must be (B, V, 4) clip-space positions, got {tuple(pos.shape)}")
    if tri.dim() != 2 or tri.shape[-1] != 3:
        raise ValueError(f"tri must be (F, 3), got {tuple(tri.shape)}")
    resolution = (int(resolution[0]), int(resolution[1]))
    chosen = choose_backend(backend, pos.device, nvdiffrast_available())
    if chosen == "nvdiffrast":
        return rasterize_nvdiffrast(pos, tri, resolution)
    if chosen == "numba" and pos.device.type == "cpu":
        return rasterize_numba(pos, tri, resolution)
    return rast_from_ids(pos, tri, triangle_ids(pos, tri, resolution, chosen))
