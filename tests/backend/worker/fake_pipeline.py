"""Stand-ins for the generation pipeline, loaded by a REAL worker via `--pipeline fake_pipeline:NAME`.

They use the worker's real reporter (views PNGs, preview npz, progress events, cancellation)
and return real meshes, so a test exercises everything but the maths, in a fraction of a
second and without importing torch. Step time comes from $FAKE_STEP_S (default 0.02 s).
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np

from latentdreamer.api import Cancelled, GenerationResult, Progress, ViewSet
from latentdreamer.geometry.mesh import Mesh

STAGES = ("coarse", "refine", "texture")
STEPS = 5


def tetrahedron(scale: float = 0.4) -> Mesh:
    v = scale * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], np.float32)
    f = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]], np.int64)
    colors = np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1], [0.5, 0.5, 0.5, 1]], np.float32)
    return Mesh(v, f, colors)


def slow(job, settings, reporter) -> GenerationResult:
    step_s = float(os.environ.get("FAKE_STEP_S", "0.02"))
    rng = np.random.default_rng(settings.seed)
    reporter.views(ViewSet(rgb=rng.random((6, 8, 8, 3)), alpha=np.ones((6, 8, 8)), normals=rng.random((6, 8, 8, 3))))
    cb = reporter.callbacks()
    best = None
    total = len(STAGES) * STEPS
    for s, stage in enumerate(STAGES):
        for step in range(1, STEPS + 1):
            if cb.should_cancel():
                raise Cancelled(best, stage)
            time.sleep(step_s)
            done = s * STEPS + step
            cb.on_progress(Progress(stage, step, STEPS, done / total, eta_s=(total - done) * step_s))
            if step % settings.preview_every == 0 or step == STEPS:
                best = tetrahedron(0.1 + 0.1 * done / total)
                cb.on_preview(best, stage)
    return GenerationResult(tetrahedron(), stats={"fake": 1}, timings={"fake_s": total * step_s})


def noisy(job, settings, reporter) -> GenerationResult:
    """Writes to stdout every way a library can; none of it may reach the protocol."""
    print("print() to stdout")
    sys.stdout.write("sys.stdout.write\n")
    sys.stdout.flush()
    os.write(1, b"os.write to fd 1\n")
    warnings.warn("a library warning", stacklevel=2)
    from tqdm import tqdm

    for _ in tqdm(range(3), file=sys.stdout):
        pass
    return slow(job, settings, reporter)


def crash(job, settings, reporter) -> GenerationResult:
    raise ZeroDivisionError("a bug in the pipeline")


def hard_exit(job, settings, reporter) -> GenerationResult:
    os._exit(3)  # the worker vanishes mid-job, as after a segfault in native code
