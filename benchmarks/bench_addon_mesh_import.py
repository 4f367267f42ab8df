"""Blender side: importing a result (82k triangles, colours) with mesh_import vs from_pydata.

Run with Blender's Python:  .venv-blender/bin/python benchmarks/bench_addon_mesh_import.py
Baseline: `Mesh.from_pydata` with Python lists (the usual script way, no colours, so the
baseline does less work). Five repeats each, medians.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp())
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bmesh  # noqa: E402
import bpy  # noqa: E402  (bmesh becomes importable once bpy is)
import numpy as np  # noqa: E402

from latentdreamer_addon import mesh_import  # noqa: E402


def sphere(subdivisions: int) -> mesh_import.MeshArrays:
    bm = bmesh.new()
    bmesh.ops.create_icosphere(bm, subdivisions=subdivisions, radius=0.5)
    me = bpy.data.meshes.new("src")
    bm.to_mesh(me)
    bm.free()
    v = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", v)
    f = np.empty(len(me.polygons) * 3, np.int32)
    me.polygons.foreach_get("vertices", f)
    colors = np.random.default_rng(0).integers(0, 256, (len(v) // 3, 4), dtype=np.uint8)
    bpy.data.meshes.remove(me)
    return mesh_import.MeshArrays(v.reshape(-1, 3), f.reshape(-1, 3), colors)


def median_time(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    arrays = sphere(7)
    ours = median_time(lambda: mesh_import.create_object("ours", arrays))
    verts, faces = arrays.vertices.tolist(), arrays.faces.tolist()

    def baseline():
        me = bpy.data.meshes.new("pydata")
        me.from_pydata(verts, [], faces)
        me.update()

    base = median_time(baseline)
    print(f"{len(arrays.vertices)} vertices, {len(arrays.faces)} triangles")
    print(f"mesh_import.create_object (with colours, material): {ours * 1000:.0f} ms (median of 5)")
    print(f"baseline Mesh.from_pydata (no colours):             {base * 1000:.0f} ms (median of 5)")
    print(f"speed-up: {base / ours:.1f}x")


if __name__ == "__main__":
    main()
