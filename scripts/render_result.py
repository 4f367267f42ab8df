"""Render an imported result with Cycles on the CPU, to a PNG a person can look at.

    .venv-blender/bin/python scripts/render_result.py RESULT.npz out/render.png
    blender -b --python scripts/render_result.py -- RESULT.npz out/render.png
    # no result at hand: make one from a coloured mesh file with the backend's loader
    .venv-blender/bin/python scripts/render_result.py --from-mesh ../shared/eval/meshes/duck_bob/bob_tri.obj out/duck.png

    # a baked result beside its own vertex colours (the README's picture)
    .venv-blender/bin/python scripts/render_result.py RESULT.npz out/compare.png --compare

RESULT.npz is the worker's result file (float32 vertices, int32 faces, uint8 sRGB colours,
and with a baked texture its corner UVs and image, which the import turns into a texture
material; `--vertex-colours` drops the texture to show the colours alone, `--compare` renders
both and puts them side by side, vertex colours on the left).
The object goes through the add-on's own import (mesh_import.create_object), so what is
rendered is what an artist gets: vertex colours through the material's Color Attribute
node, smooth shading, Blender's frame (the camera sits in front, on -Y, slightly above).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Turns a coloured mesh file into a worker-format npz, run in the backend's environment.
_CONVERT = """
import sys, numpy as np
from latentdreamer.io.eval_meshes import entry_for_file, load_eval_mesh
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.worker.results import write_mesh_npz
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
mesh = load_eval_mesh(entry_for_file(src), colours=True)
v = np.asarray(mesh.vertices, np.float64)
v = v - (v.max(0) + v.min(0)) / 2
v = v * (0.5 / np.linalg.norm(v, axis=1).max())
write_mesh_npz(dst, Mesh(v.astype(np.float32), mesh.faces, mesh.colors))
"""


def mesh_to_npz(mesh_path: Path, python: str) -> Path:
    out = Path(tempfile.mkdtemp(prefix="ld-render-")) / (mesh_path.parent.name + ".npz")
    subprocess.run([python, "-c", _CONVERT, str(mesh_path), str(out)], check=True)
    return out


def render(npz: Path, png: Path, samples: int, size: int, vertex_colours: bool = False) -> Path:
    import dataclasses

    import bpy
    from mathutils import Vector

    from latentdreamer_addon import mesh_import

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    arrays = mesh_import.MeshArrays.load(npz)
    if vertex_colours:
        arrays = dataclasses.replace(arrays, uvs=None, texture=None)
    obj = mesh_import.create_object(npz.stem, arrays, options=mesh_import.ImportOptions(target_size=1.0))
    # Stand the object on the floor at the origin.
    lowest = min((obj.matrix_world @ Vector(c)).z for c in obj.bound_box)
    obj.location.z -= lowest

    floor = bpy.data.meshes.new("floor")
    floor.from_pydata([(-5, -5, 0), (5, -5, 0), (5, 5, 0), (-5, 5, 0)], [], [(0, 1, 2, 3)])
    floor_obj = bpy.data.objects.new("floor", floor)
    scene.collection.objects.link(floor_obj)
    grey = bpy.data.materials.new("floor")
    grey.diffuse_color = (0.6, 0.6, 0.6, 1.0)
    grey.use_nodes = True
    grey.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.5, 0.5, 0.5, 1.0)
    floor.materials.append(grey)

    centre = Vector((0.0, 0.0, obj.dimensions.z / 2))
    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(cam)
    distance = 3.2
    elevation, azimuth = math.radians(20), math.radians(-30)  # in front (-Y), a little to the right
    cam.location = centre + distance * Vector(
        (math.cos(elevation) * math.sin(-azimuth), -math.cos(elevation) * math.cos(azimuth), math.sin(elevation))
    )
    cam.rotation_euler = (centre - cam.location).to_track_quat("-Z", "Y").to_euler()
    cam.data.lens = 50
    scene.camera = cam

    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (math.radians(40), 0.0, math.radians(-35))
    scene.collection.objects.link(sun)
    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.8, 0.85, 0.9, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.6
    scene.world = world

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"  # vertex colours come out as stored
    png.parent.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(png.resolve())
    bpy.ops.render.render(write_still=True)
    return png


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Cycles (CPU) render of an imported LatentDreamer result")
    parser.add_argument("result", type=Path, nargs="?", help="the worker's result .npz")
    parser.add_argument("png", type=Path)
    parser.add_argument("--from-mesh", type=Path, help="make the npz from a coloured mesh file (backend loader)")
    parser.add_argument(
        "--backend-python", default=os.environ.get("LATENTDREAMER_BACKEND_PYTHON", str(REPO / ".venv-backend" / "bin" / "python"))
    )
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--size", type=int, default=480)
    parser.add_argument("--vertex-colours", action="store_true", help="ignore a baked texture: the vertex colours alone")
    parser.add_argument("--compare", action="store_true", help="vertex colours | baked texture, side by side")
    args = parser.parse_args(argv)
    if args.from_mesh is not None:
        npz = mesh_to_npz(args.from_mesh, args.backend_python)
    elif args.result is not None:
        npz = args.result
    else:
        parser.error("give a result .npz or --from-mesh")
    if args.compare:
        print(compare(npz, args.png, args.samples, args.size))
    else:
        print(render(npz, args.png, args.samples, args.size, args.vertex_colours))
    return 0


def compare(npz: Path, png: Path, samples: int, size: int) -> Path:
    """Two renders of one result, the same camera and light: vertex colours, then the texture."""
    import bpy
    import numpy as np

    halves = []
    for vertex_colours in (True, False):
        part = png.with_name(f"{png.stem}.{'vertex' if vertex_colours else 'texture'}.png")
        render(npz, part, samples, size, vertex_colours)
        image = bpy.data.images.load(str(part))
        px = np.empty(size * size * 4, np.float32)
        image.pixels.foreach_get(px)
        halves.append(px.reshape(size, size, 4))
        part.unlink()
    joined = np.concatenate(halves, axis=1)
    out = bpy.data.images.new("compare", 2 * size, size, alpha=True)
    out.pixels.foreach_set(joined.ravel())
    out.filepath_raw = str(png.resolve())
    out.file_format = "PNG"
    out.save()
    return png


if __name__ == "__main__":
    sys.exit(main(sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]))
