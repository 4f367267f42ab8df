"""Shared by every evaluation: the entries of a folder, failure rows, per-kind means."""

from __future__ import annotations

from pathlib import Path

import pytest
import trimesh

from latentdreamer.errors import UserFacingError
from latentdreamer.eval.entries import attempt, eval_entries, means, means_by_kind
from latentdreamer.io.eval_meshes import EvalEntry, EvalFolderError


def test_a_missing_mesh_folder_is_recorded_and_an_existing_one_listed(tmp_path: Path, capsys):
    report: dict = {}
    assert eval_entries(tmp_path / "nope", report) is None
    assert report["meshes_skipped"].endswith("nope not found") and "skipped" in capsys.readouterr().out
    trimesh.creation.box().export(tmp_path / "box.stl")
    report = {}
    (entry,) = eval_entries(tmp_path, report, up="y", kind="solid")
    assert (entry.name, entry.up, entry.kind) == ("box", "y", "solid")
    assert report["mesh_entries"][0]["path"] == str(tmp_path / "box.stl")
    (tmp_path / "box.stl").unlink()
    with pytest.raises(EvalFolderError):
        eval_entries(tmp_path, {})


def test_attempt_turns_failures_into_rows_and_keeps_tracebacks_only_for_bugs(tmp_path: Path):
    failures: list[dict] = []
    ok = EvalEntry("ok", tmp_path / "ok.obj")
    assert attempt(ok, lambda e: e.name * 2, failures, log=lambda *a, **k: None) == "okok"

    def user_error(_):
        raise UserFacingError("mesh file x.obj could not be used")

    def bug(_):
        raise ZeroDivisionError("oops")

    assert attempt(ok, user_error, failures, log=lambda *a, **k: None) is None
    assert attempt(EvalEntry("b", None, problem="no mesh file"), bug, failures, log=lambda *a, **k: None) is None
    assert attempt(ok, bug, failures, log=lambda *a, **k: None) is None
    assert [f["error"] for f in failures] == ["mesh file x.obj could not be used", "no mesh file", "ZeroDivisionError: oops"]
    assert ["traceback" in f for f in failures] == [False, False, True]


def test_means_skip_missing_and_nan_values_and_split_by_kind():
    rows = [
        {"name": "a", "iou": 0.2, "t": 1.0},
        {"name": "b", "iou": 0.6, "t": float("nan")},
        {"name": "c", "iou": 1.0},
    ]
    assert means(rows, ["iou", "t"]) == pytest.approx({"iou": 0.6, "t": 1.0})
    by_kind = means_by_kind(rows, {"a": "thin", "b": "thin", "c": "solid"}, ["iou"])
    assert by_kind == {"solid": {"count": 1, "iou": 1.0}, "thin": {"count": 2, "iou": pytest.approx(0.4)}}
    assert means_by_kind(rows, {"a": None}, ["iou"]) == {}
