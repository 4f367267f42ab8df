"""The real worker running the real pipeline (tiny preset) on views of a sphere, and cancelled at each stage.

The views are computed analytically (ray-sphere intersection in the six prior cameras), so
the test depends on nothing but the pipeline it exercises. A tiny job takes tens of seconds
on a busy CPU, so the worker is shared by the tests of this module (numba compiles once),
and cancelling in the stages after coarse (each needs the stages before it) only runs with
LATENTDREAMER_SLOW_TESTS=1 or on a CUDA machine.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from latentdreamer.render.grid_image import join_grid

from worker_harness import WorkerProcess

STAGES = ("init", "coarse", "refine", "subdivide", "texture")
SLOW = os.environ.get("LATENTDREAMER_SLOW_TESTS") == "1" or torch.cuda.is_available()
DISTANCE = 0.5 / math.tan(math.radians(15))
RADIUS = 0.35


def sphere_view(size: int, colour: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """RGBA and encoded camera-space normals of a sphere at the origin, seen from a prior camera."""
    t = math.tan(math.radians(15))
    coords = (np.arange(size) + 0.5) / size * 2 - 1
    x, y = np.meshgrid(coords * t, -coords * t)  # row 0 is the top: y up
    d = np.stack([x, y, -np.ones_like(x)], -1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    centre = np.array([0.0, 0.0, -DISTANCE])
    b = d @ centre
    disc = b * b - (centre @ centre - RADIUS**2)
    hit = disc > 0
    depth = b - np.sqrt(np.where(hit, disc, 0))
    normal = np.where(hit[..., None], (d * depth[..., None] - centre) / RADIUS, 0.0)
    shade = 0.4 + 0.6 * np.clip(normal[..., 2], 0, 1)
    rgba = np.concatenate([np.where(hit[..., None], shade[..., None] * colour, 0.5), hit[..., None]], -1)
    return rgba, np.where(hit[..., None], (normal + 1) / 2, 0.5)


@pytest.fixture(scope="module")
def sphere_inputs(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("sphere")
    colours = [(0.9, 0.2, 0.2), (0.2, 0.9, 0.2), (0.2, 0.2, 0.9), (0.9, 0.9, 0.2), (0.2, 0.9, 0.9), (0.9, 0.2, 0.9)]
    views = [sphere_view(64, c) for c in colours]
    paths = {}
    for name, index in (("grid", 0), ("normals", 1)):
        grid = join_grid([v[index] for v in views])
        paths[name] = str(folder / f"{name}.png")
        Image.fromarray(np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)).save(paths[name])
    return {"views": {"grid": paths["grid"]}, "normals": {"grid": paths["normals"]}}


@pytest.fixture(scope="module")
def worker():
    w = WorkerProcess(pipeline=None)
    yield w
    w.close()


def job(request_id: str, inputs: dict, **settings) -> dict:
    return {
        "type": "generate",
        "id": request_id,
        **inputs,
        "settings": {"preset": "tiny", "preview_every": 4, **settings},
        "glb": True,
    }


def test_a_tiny_job_from_six_views_to_a_coloured_mesh(worker, sphere_inputs):
    assert worker.hello["capabilities"]["pipeline"] is True
    worker.send(job("full", sphere_inputs))
    events = worker.until("full", timeout=600)
    kinds = [e["type"] for e in events if e["id"] == "full"]
    assert kinds[-1] == "result", events[-1]
    assert kinds[:2] == ["queued", "views"] and "preview" in kinds
    stages = [e["stage"] for e in events if e["type"] == "progress"]
    assert [s for s in STAGES if s in stages] == list(STAGES)
    fractions = [e["fraction"] for e in events if e["type"] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert any(e["type"] == "device" for e in events)
    result = events[-1]
    with np.load(result["path"]) as data:
        v, f, c = data["vertices"], data["faces"], data["colors"]
    assert v.dtype == np.float32 and f.dtype == np.int32 and c.dtype == np.uint8
    assert len(f) == result["stats"]["num_faces"] > 100 and f.max() < len(v)
    radius = np.linalg.norm(v, axis=1)
    assert abs(np.median(radius) - RADIUS) < 0.08  # it is the sphere
    assert Path(result["glb"]).stat().st_size > 0
    assert result["stats"]["preset"] == "tiny" and result["timings"]["total_s"] > 0


@pytest.mark.parametrize(
    "stage",
    [
        s
        if s in ("init", "coarse") or SLOW
        else pytest.param(
            s, marks=pytest.mark.skip(reason="each later stage costs a tiny job's first stages; LATENTDREAMER_SLOW_TESTS=1")
        )
        for s in STAGES
    ],
)
def test_cancel_in_each_stage(worker, sphere_inputs, stage):
    request_id = f"cancel-{stage}"
    # Texturing gives a cancel that arrives late in subdivide a stage to land in.
    worker.send(job(request_id, sphere_inputs, texture=stage in ("subdivide", "texture")))
    seen = worker.until(request_id, kinds={"progress"}, timeout=600)
    while not (seen[-1]["type"] == "progress" and seen[-1]["id"] == request_id and seen[-1]["stage"] == stage):
        assert seen[-1]["type"] not in ("result", "error", "cancelled"), seen[-1]
        seen.append(worker.next(600))
    worker.send({"type": "cancel", "id": f"x-{stage}", "job": request_id})
    end = worker.until(request_id, timeout=600)[-1]
    # A short stage may end before the cancel is seen; the job then stops in the next one.
    assert end["type"] == "cancelled", end
    assert STAGES.index(end["stage"]) >= STAGES.index(stage)
    if STAGES.index(end["stage"]) > STAGES.index("refine"):
        with np.load(end["path"]) as data:
            assert len(data["faces"]) > 100
    assert worker.request({"type": "ping", "id": f"p-{stage}"})["running"] is None
