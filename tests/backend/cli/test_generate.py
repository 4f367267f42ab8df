"""`latentdreamer generate` with the user-views and oracle inputs (the image input is tested
with the priors), at the tiny preset cut to a few steps."""

from __future__ import annotations

import pytest
import torch

from latentdreamer.cli.main import main
from latentdreamer.geometry.example_object import example_object
from latentdreamer.io.mesh_io import load_mesh, save_mesh
from latentdreamer.optimise import presets


@pytest.fixture()
def short_tiny(monkeypatch):
    torch.set_num_threads(2)
    tiny = presets.get_preset("tiny")
    monkeypatch.setitem(presets.PRESET_TABLE, "tiny", tiny.with_max_steps(coarse=3, refine=1, texture=3))


def test_from_mesh_then_the_saved_views(short_tiny, tmp_path, capsys):
    source = save_mesh(example_object(seed=3, resolution=32), tmp_path / "object.glb")
    out = tmp_path / "result.glb"
    assert main(["generate", "--from-mesh", str(source), "-o", str(out), "--preset", "tiny", "--device", "cpu", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert str(out) in captured.out and "triangles" in captured.err and "coarse" in captured.err
    mesh = load_mesh(out)
    assert mesh.num_faces > 100 and mesh.colors is not None
    views = tmp_path / "result_views"
    rgb = sorted(views.glob("rgb_*.png"))
    normals = sorted(views.glob("normal*_*.png"))
    assert len(rgb) == 6 and len(normals) == 6

    out2 = tmp_path / "again.ply"
    args = [
        "generate",
        "--view-files",
        *map(str, rgb),
        "--normal-files",
        *map(str, normals),
        "-o",
        str(out2),
        "--preset",
        "tiny",
        "--device",
        "cpu",
        "--no-texture",
        "--quiet",
    ]
    assert main(args) == 0
    assert load_mesh(out2).num_faces > 100


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "exactly one input"),
        (["img.png", "--from-mesh", "m.obj"], "exactly one input"),
        (["--from-mesh", "m.obj", "--normals", "n.png"], "--normals"),
        (["--views", "g.png", "--no-normals"], "--no-normals"),
        (["--views", "g.png", "--preset", "huge"], "unknown preset"),
    ],
)
def test_bad_arguments_are_refused(args, message, tmp_path, capsys):
    assert main(["generate", *args, "-o", str(tmp_path / "x.glb")]) == 2
    assert message in capsys.readouterr().err


def test_wrong_output_suffix(tmp_path, capsys):
    assert main(["generate", "--views", "g.png", "-o", str(tmp_path / "x.stl")]) == 2
    assert ".glb, .ply or .obj" in capsys.readouterr().err


def test_missing_view_grid_is_a_user_error(tmp_path, capsys):
    assert main(["generate", "--views", str(tmp_path / "none.png"), "-o", str(tmp_path / "x.glb"), "--quiet"]) == 2
    assert "not found" in capsys.readouterr().err
