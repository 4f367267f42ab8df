"""Client tests start the REAL worker with the backend's Python ($LATENTDREAMER_BACKEND_PYTHON).

The worker runs `fake_pipeline` from tests/backend/worker (a stand-in for the maths, using the
worker's real reporting), so a job takes a fraction of a second and needs no torch.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
import zlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FAKE_PIPELINE_DIR = REPO / "tests" / "backend" / "worker"
sys.path.insert(0, str(FAKE_PIPELINE_DIR))
from worker_harness import pid_alive  # noqa: E402,F401  (standard library only, shared with the worker tests)


def backend_python() -> str:
    path = os.environ.get("LATENTDREAMER_BACKEND_PYTHON") or str(REPO / ".venv-backend" / "bin" / "python")
    if not Path(path).exists():
        pytest.skip(f"no backend Python at {path} (run scripts/setup.sh backend or set LATENTDREAMER_BACKEND_PYTHON)")
    return path


def worker_command(pipeline: str | None = "fake_pipeline:slow", *args: str) -> list[str]:
    cmd = [backend_python(), "-m", "latentdreamer.worker", "--no-probe", "--log-file", "", *args]
    return cmd + (["--pipeline", pipeline] if pipeline else [])


def worker_env(step_s: float = 0.02) -> dict[str, str]:
    return {"PYTHONPATH": str(FAKE_PIPELINE_DIR), "FAKE_STEP_S": str(step_s)}


def write_png(path: Path, width: int, height: int, pixels: bool = True) -> str:
    """A grey RGB PNG from the standard library; pixels=False writes a header only (for huge sizes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\x7f" * (3 * width) for _ in range(height)) if pixels else b"\0"
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return str(path)


def client_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("latentdreamer-client")]
