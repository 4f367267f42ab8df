"""Edge topology of a triangle list, computed once per distinct topology.

Finding which triangles share an edge needs a sort over 3F keys (hundreds of ms for
an 82k-face mesh on a CPU), while the topology rarely changes between the calls of an
optimisation; the cache is keyed by the triangle list's contents, so passing a fresh
copy of the same faces each step still hits it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import torch

OPPOSITE = ((1, 2), (2, 0), (0, 1))
"""Edge i of a triangle joins the two vertices other than i (where barycentric i is 0)."""

_CACHE: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
_CACHE_SIZE = 8


def edge_topology(tri: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(F, 3) index of each triangle edge into the mesh's unique edges, and (E,) faces per edge."""
    tri = tri.detach()
    digest = hashlib.blake2b(tri.cpu().contiguous().numpy(), digest_size=16).digest()
    key = (tuple(tri.shape), tri.dtype, str(tri.device), digest)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    tri = tri.to(torch.int64)
    first = tri[:, [j for j, _ in OPPOSITE]]
    second = tri[:, [k for _, k in OPPOSITE]]
    stride = int(tri.max()) + 1 if tri.numel() else 1
    keys = torch.minimum(first, second) * stride + torch.maximum(first, second)
    _, edge, count = torch.unique(keys.reshape(-1), return_inverse=True, return_counts=True)
    _CACHE[key] = (edge.view(-1, 3), count)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return _CACHE[key]
