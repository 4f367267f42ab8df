"""benchmarks/gpu_check.py, the script a CUDA machine runs, checked on the CPU against itself.

Every path it takes on CUDA it takes here too (with the CPU as both sides), so a CUDA
session spends its few minutes on the GPU, not on a typo in the script.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_runs_every_section_on_the_cpu(tmp_path):
    pytest.importorskip("diffusers", reason="the 'diffusion' extra is not installed")
    report = tmp_path / "gpu_check.md"
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--quick", "--out", str(report)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = report.read_text()
    for section in ("rasteriser, torch path", "FlexiCubes", "SAE decode", "tiny Zero123++ sampler", "whole tiny generation"):
        assert f"## {section}" in text
    assert "FAILED" not in text
    assert "- ids equal: 1.0000" in text and "- IoU cpu vs device: 1.000" in text  # CPU against itself
