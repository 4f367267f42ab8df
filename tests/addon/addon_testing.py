"""Shared helpers of the add-on tests (no bpy import here: conftest sets Blender up first)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def backend_python() -> str | None:
    """The real backend's Python (scripts/test.sh exports it), or None."""
    path = os.environ.get("LATENTDREAMER_BACKEND_PYTHON") or str(REPO / ".venv-backend" / "bin" / "python")
    return path if Path(path).exists() else None


MAKE_EXAMPLE = (
    "import sys; from latentdreamer.geometry.example_object import example_object; "
    "from latentdreamer.io.mesh_io import save_mesh; "
    "save_mesh(example_object(seed=int(sys.argv[2]), resolution=int(sys.argv[3])), sys.argv[1])"
)


def example_mesh(path: Path, seed: int = 3, resolution: int = 64) -> Path:
    """The backend's example object (geometry/example_object.py) saved at `path` by the
    backend's own Python: the add-on's tests never import the backend."""
    out = subprocess.run(
        [backend_python(), "-c", MAKE_EXAMPLE, str(path), str(seed), str(resolution)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return path


def views_of_mesh(mesh: Path, views: Path) -> Path:
    """The six views of `mesh` as a user makes them: `generate --from-mesh --views-only`."""
    command = ["-m", "latentdreamer", "generate", "--from-mesh", str(mesh), "--views-only", "--quiet"]
    out = subprocess.run(
        [backend_python(), *command, "--views-dir", str(views), "-o", str(views.parent / "unused.glb")],
        capture_output=True,
        text=True,
        cwd=views.parent,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return views
