"""Shared helpers of the add-on tests (no bpy import here: conftest sets Blender up first)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def backend_python() -> str | None:
    """The real backend's Python (scripts/test.sh exports it), or None."""
    path = os.environ.get("LATENTDREAMER_BACKEND_PYTHON") or str(REPO / ".venv-backend" / "bin" / "python")
    return path if Path(path).exists() else None
