"""The six views of a random example object, made the way a user makes them: by the CLI.

Shared by the benchmarks that drive the backend as a user would (bench_contention.py,
bench_soak.py); each runs it in a fresh process so nothing of it stays loaded in theirs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MAKE_OBJECT = (
    "import sys; from latentdreamer.geometry.example_object import example_object; "
    "from latentdreamer.io.mesh_io import save_mesh; save_mesh(example_object(seed=int(sys.argv[2])), sys.argv[1])"
)


def example_views(root: Path, seed: int) -> Path:
    """Writes `root/object.glb` (geometry/example_object.py at `seed`) and its six views with
    `generate --from-mesh --views-only`; returns the views folder."""
    subprocess.run([sys.executable, "-c", MAKE_OBJECT, str(root / "object.glb"), str(seed)], check=True)
    views = root / "views"
    command = ["generate", "--from-mesh", str(root / "object.glb"), "--views-only", "--quiet"]
    subprocess.run(
        [sys.executable, "-m", "latentdreamer", *command, "--views-dir", str(views), "-o", str(root / "unused.glb")],
        check=True,
        capture_output=True,
    )
    return views
