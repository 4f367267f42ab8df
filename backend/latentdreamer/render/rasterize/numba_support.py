"""What the compiled passes share: their input arrays, and how many threads a pass gets.

Fewer threads for small jobs:
Starting a parallel region wakes numba's worker threads; on a loaded machine a worker
waits for a free core, which measured ~20 ms per call on 2 busy cores against ~0.1 ms
for a 12x12 buffer run on the calling thread alone. Gradient checks and small renders
make thousands of such calls, so a job gets one thread per WORK_PER_THREAD work items.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
import torch

WORK_PER_THREAD = 1 << 16
"""Pixels plus triangle-view pairs per thread; about a millisecond of work."""


def float_array(t: torch.Tensor) -> np.ndarray:
    """C-contiguous float64 array for a float64 tensor, float32 otherwise (kernels widen in-register)."""
    dtype = torch.float64 if t.dtype == torch.float64 else torch.float32
    return np.ascontiguousarray(t.detach().to("cpu", dtype).numpy())


def face_array(tri: torch.Tensor) -> np.ndarray:
    """C-contiguous int32 (F, 3) array of triangle corners, as every kernel takes them."""
    return np.ascontiguousarray(tri.detach().to("cpu", torch.int32).numpy())


@contextmanager
def threads_for(work: int) -> Iterator[None]:
    """Run the block with at most work // WORK_PER_THREAD (at least 1) of the current numba threads."""
    before = numba.get_num_threads()
    wanted = max(1, min(before, work // WORK_PER_THREAD))
    if wanted == before:
        yield
        return
    numba.set_num_threads(wanted)
    try:
        yield
    finally:
        numba.set_num_threads(before)
