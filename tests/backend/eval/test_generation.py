"""`eval generate` on a folder holding one coloured object, with budgets cut to a few steps."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from latentdreamer.cli.main import main
from latentdreamer.eval.generation import _steps_to_reach
from latentdreamer.geometry.example_object import example_object
from latentdreamer.io.mesh_io import save_mesh
from latentdreamer.optimise import presets


def _short_tiny() -> presets.Preset:
    return presets.get_preset("tiny").with_max_steps(coarse=3, refine=2, texture=3)


def eval_args(meshes: Path, out: Path, *extra: str) -> list[str]:
    """`eval generate` at a test's size: tiny, 64 px views, 2000 points, one ablated object."""
    size = ["--view-size", "64", "--points", "2000", "--ablations", "1"]
    return ["eval", "generate", "--meshes", str(meshes), "--preset", "tiny", "--device", "cpu", "--out", str(out), *size, *extra]


def test_eval_generate_writes_scores_ablations_and_sheet(tmp_path, monkeypatch, capsys):
    torch.set_num_threads(2)
    monkeypatch.setitem(presets.PRESET_TABLE, "tiny", _short_tiny())
    meshes = tmp_path / "meshes"
    save_mesh(example_object(seed=3, resolution=32), meshes / "blob.glb")
    (meshes / "blob.json").write_text(json.dumps({"kind": "solid"}))
    (meshes / "notes.txt").write_text("not a mesh")
    (meshes / "broken.obj").write_text("v 0 0 0\nf 1 2 3\n")  # a face past the vertices

    out = tmp_path / "out"
    assert main(eval_args(meshes, out, "--no-sae")) == 1  # the report is whole for the others; the exit says one entry failed
    assert "1 entry could not be scored: broken" in capsys.readouterr().err
    report = json.loads((out / "generation_eval.json").read_text())
    (obj,) = report["objects"]
    assert obj["name"] == "blob" and obj["watertight"] and obj["kind"] == "solid"
    # The broken mesh is a failure row naming its file; the run went on without it.
    (failed,) = report["failed"]
    assert failed["name"] == "broken" and "broken.obj" in failed["error"] and "traceback" not in failed
    assert report["by_kind"]["solid"]["count"] == 1
    assert report["by_kind"]["solid"]["volume_iou"] == obj["geometry"]["volume_iou"]
    assert 0.3 < obj["geometry"]["volume_iou"] <= 1.0 and obj["geometry"]["chamfer"] > 0
    assert 10 < obj["prior_views"]["psnr"] < 60 and 0 < obj["novel_views"]["ssim"] <= 1
    assert set(report["ablations"]) == {
        "initialisation",
        "refinement",
        "camera corrections",
        "loss confidence",
        "view-aware texture",
    }
    init = report["ablations"]["initialisation"]["summary"]
    assert len(init) == 2 and all(v["coarse_steps"]["mean"] == 3 for v in init.values())
    cameras = {r["variant"]: r for r in report["ablations"]["camera corrections"]["per_object"]}
    assert set(cameras) == {"corrected", "exact cameras"} and cameras["exact cameras"]["largest_shift_px"] == 0.0
    assert all(0.0 < r["volume_iou"] <= 1.0 for r in cameras.values())
    confidence = {r["variant"]: r for r in report["ablations"]["loss confidence"]["per_object"]}
    assert set(confidence) == {"confidence-weighted", "plain"} and all(0.0 < r["volume_iou"] <= 1.0 for r in confidence.values())
    texture = {r["variant"]: r for r in report["ablations"]["view-aware texture"]["per_object"]}
    assert set(texture) == {"view-aware", "plain"} and all(10 < r["novel_psnr"] < 60 for r in texture.values())
    md = (out / "generation_eval.md").read_text()
    assert "| blob |" in md and "**mean**" in md and "Ablation — refinement" in md and "Ablation — camera corrections" in md
    assert "| broken |" in md and "| solid | 1 |" in md
    assert (out / "generation_eval.png").stat().st_size > 1000


def test_with_the_shipped_sae_and_lin_the_init_ablation_runs_lin_and_zero_too(tmp_path, monkeypatch):
    torch.set_num_threads(2)
    monkeypatch.setitem(presets.PRESET_TABLE, "tiny", _short_tiny())
    meshes = tmp_path / "meshes"
    save_mesh(example_object(seed=3, resolution=32), meshes / "blob.glb")
    out = tmp_path / "out"
    assert main(eval_args(meshes, out)) == 0
    report = json.loads((out / "generation_eval.json").read_text())
    init = report["ablations"]["initialisation"]
    assert init["variants"] == ["auto (LIN)", "hull", "zero"]
    rows = {r["variant"]: r for r in init["per_object"]}
    assert rows["auto (LIN)"]["start"] == "lin" and rows["hull"]["start"] == "hull" and rows["zero"]["start"] == "zero"
    # every start is scored against the loss all of them reach, so none needs more steps than it ran
    assert all(1 <= r["steps_to_common_loss"] <= r["coarse_steps"] == 3 for r in rows.values())


def test_steps_to_reach():
    assert _steps_to_reach([3.0, 2.0, 1.0], 2.0) == 2
    assert _steps_to_reach([3.0, 2.5], 1.0) == 2


def test_degraded_views_are_recorded_with_their_parameters(tmp_path, monkeypatch, capsys):
    torch.set_num_threads(2)
    monkeypatch.setitem(presets.PRESET_TABLE, "tiny", _short_tiny())
    meshes = tmp_path / "meshes"
    save_mesh(example_object(seed=3, resolution=32), meshes / "blob.glb")
    out = tmp_path / "out"
    common = ["eval", "generate", "--meshes", str(meshes), "--preset", "tiny", "--device", "cpu", "--out", str(out)]
    common += ["--ablations", "0", "--view-size", "64", "--points", "2000", "--no-sae"]
    assert main([*common, "--degrade", "2", "--degrade-only", "scale,masks"]) == 0
    report = json.loads((out / "generation_eval.json").read_text())
    assert report["degradation"]["level"] == 2 and report["degradation"]["active"] == ["scale", "masks"]
    assert report["degradation"]["scale"] == 0.06 and report["degradation"]["colour_gain"] == 0
    # The views' scale, measured from their silhouettes, shows the 6 % scale error.
    assert abs(report["objects"][0]["view_scale"] - 1) > 0.03
    md = (out / "generation_eval.md").read_text()
    assert "Views degraded" in md and "perturbations on: scale, masks" in md
    capsys.readouterr()
    assert main([*common, "--degrade", "1", "--degrade-only", "blur"]) == 2
    assert "unknown perturbations ['blur']" in capsys.readouterr().err
    assert main([*common, "--degrade-only", "colour"]) == 2
