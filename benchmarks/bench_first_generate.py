"""First Generate from Blender against a warm one, with and without starting the backend early.

    .venv-blender/bin/python benchmarks/bench_first_generate.py [--preset tiny] [--repeats 3]
        [--choose-s 8] [--backend .venv-backend/bin/python]

Runs in Blender's Python (bpy as a module) with the add-on from this checkout and the real
worker. Each repeat measures, from the click (`bpy.ops.latentdreamer.generate()`, blocking)
to the mesh in the scene, on the same six oracle views of the demo's object:

- cold:   no worker yet; it starts at the click (the old behaviour, and Start Backend Early off);
- early:  the panel started the worker (`operators.prestart_backend`, what drawing the panel
          schedules) --choose-s seconds before the click, the time an artist spends choosing
          inputs; the worker warms up meanwhile;
- warm:   a second Generate on the same worker (the baseline of the ratios).

Medians over --repeats; target: early / warm at most 1.3.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# isort: off
import bpy  # noqa: E402  (addon_utils exists once bpy is loaded)
import addon_utils  # noqa: E402
# isort: on


def make_views(backend: str, folder: Path) -> Path:
    make = (
        "import sys; from latentdreamer.geometry.example_object import example_object; "
        "from latentdreamer.io.mesh_io import save_mesh; save_mesh(example_object(seed=3), sys.argv[1])"
    )
    subprocess.run([backend, "-c", make, str(folder / "object.glb")], check=True)
    views = folder / "views"
    subprocess.run(
        [
            backend,
            "-m",
            "latentdreamer",
            "generate",
            "--from-mesh",
            str(folder / "object.glb"),
            "--views-only",
            "--quiet",
            "--views-dir",
            str(views),
            "-o",
            str(folder / "unused.glb"),
        ],
        check=True,
        capture_output=True,
    )
    return views


def timed_generate(preset: str) -> float:
    start = time.perf_counter()
    result = bpy.ops.latentdreamer.generate(preset=preset)
    elapsed = time.perf_counter() - start
    status = bpy.context.window_manager.latentdreamer
    if result != {"FINISHED"} or status.error:
        raise SystemExit(f"generate failed: {status.error} {status.hint}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--choose-s", type=float, default=8.0)
    parser.add_argument("--backend", default=str(ROOT / ".venv-backend" / "bin" / "python"))
    args = parser.parse_args()

    from latentdreamer_addon import operators, session

    addon_utils.enable("latentdreamer_addon", default_set=True, handle_error=None)
    prefs = bpy.context.preferences.addons["latentdreamer_addon"].preferences
    prefs.backend_python = args.backend
    with tempfile.TemporaryDirectory(prefix="ld-first-") as tmp:
        settings = bpy.context.scene.latentdreamer
        settings.image_source, settings.views_layout = "VIEWS", "FILES"
        settings.views_folder = str(make_views(args.backend, Path(tmp)))
        timed_generate(args.preset)  # numba caches and file caches, as on any machine after its first run
        session.release()
        runs: dict[str, list[float]] = {"cold": [], "early": [], "warm": []}
        for _ in range(args.repeats):
            runs["cold"].append(timed_generate(args.preset))
            runs["warm"].append(timed_generate(args.preset))
            session.release()
            operators.prestart_backend()
            time.sleep(args.choose_s)
            runs["early"].append(timed_generate(args.preset))
            session.release()
    addon_utils.disable("latentdreamer_addon", default_set=True, handle_error=None)
    warm = statistics.median(runs["warm"])
    print(
        f"Blender {bpy.app.version_string}; preset {args.preset}; {args.repeats} repeats; "
        f"early start {args.choose_s:g} s before the click"
    )
    print(f"{'condition':<8} {'median s':>9} {'min s':>7} {'max s':>7} {'/ warm':>7}")
    for name, values in runs.items():
        med = statistics.median(values)
        print(f"{name:<8} {med:>9.2f} {min(values):>7.2f} {max(values):>7.2f} {med / warm:>7.2f}")


if __name__ == "__main__":
    main()
