"""The one writer of evaluation reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from latentdreamer.eval.report_files import write_report


def test_report_pair_holds_numpy_scalars_as_numbers(tmp_path: Path):
    report = {"iou": np.float32(0.5), "n": 3}
    write_report(tmp_path, "x_eval", report, lambda r: f"| iou | {float(r['iou']):.2f} |\n")
    assert json.loads((tmp_path / "x_eval.json").read_text()) == {"iou": 0.5, "n": 3}
    assert (tmp_path / "x_eval.md").read_text() == "| iou | 0.50 |\n"
