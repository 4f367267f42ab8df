"""Evaluation folders: every trimesh format, names from folders, the largest of several files,
orientation by sidecar / glTF / table / --up, problems as entries, whole glTF scenes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from latentdreamer.errors import UserFacingError
from latentdreamer.io.eval_meshes import (
    UP_AXIS,
    EvalFolderError,
    default_eval_root,
    entry_for_file,
    find_eval_meshes,
    load_eval_mesh,
    load_textured_eval_mesh,
)
from latentdreamer.pipeline.oracle_views import load_oracle_mesh

EVAL_ROOT = Path(__file__).resolve().parents[3] / ".." / "shared" / "eval" / "meshes"
THIN_ROOT = EVAL_ROOT.parent / "thin"
needs_dev_meshes = pytest.mark.skipif(not EVAL_ROOT.is_dir(), reason=f"eval meshes not found at {EVAL_ROOT}")


def _tall_box() -> trimesh.Trimesh:
    """1 x 3 x 1 along (x, y, z) as stored: tall along y, as a Y-up file stores an upright object."""
    return trimesh.creation.box(extents=(1.0, 3.0, 1.0))


def _extent(mesh) -> np.ndarray:
    return mesh.vertices.max(0) - mesh.vertices.min(0)


def test_every_trimesh_format_is_an_entry_named_for_its_stem(tmp_path: Path):
    for suffix in ("obj", "glb", "gltf", "ply", "stl", "off"):
        _tall_box().export(tmp_path / f"box_{suffix}.{suffix}")
    (tmp_path / "notes.txt").write_text("not a mesh")
    entries = find_eval_meshes(tmp_path)
    assert [e.name for e in entries] == [f"box_{s}" for s in sorted(("obj", "glb", "gltf", "ply", "stl", "off"))]
    for entry in entries:
        mesh = load_eval_mesh(entry)
        assert mesh.num_faces == 12, entry.name
        # glTF is +Y up by specification: turned upright; the others are Z up by default.
        tall_axis = 2 if entry.path.suffix in (".glb", ".gltf") else 1
        assert np.argmax(_extent(mesh)) == tall_axis, entry.name
        assert entry.up_from == ("glTF" if tall_axis == 2 else "default")


def test_up_option_turns_obj_and_stl_but_not_gltf(tmp_path: Path):
    for suffix in ("obj", "stl", "glb"):
        _tall_box().export(tmp_path / f"b.{suffix}")
    for entry in find_eval_meshes(tmp_path, up="Y"):
        assert np.argmax(_extent(load_eval_mesh(entry))) == 2, entry.name
    with pytest.raises(EvalFolderError, match="up axis"):
        find_eval_meshes(tmp_path, up="x")


def test_folder_names_entries_and_colliding_files_keep_their_suffix(tmp_path: Path):
    # Datasets ship <object>/textured.obj many times over; and a.obj beside a.ply.
    for folder in ("mug", "spoon"):
        (tmp_path / folder).mkdir()
        _tall_box().export(tmp_path / folder / "textured.obj")
    _tall_box().export(tmp_path / "a.obj")
    _tall_box().export(tmp_path / "a.ply")
    assert [e.name for e in find_eval_meshes(tmp_path)] == ["a.obj", "a.ply", "mug", "spoon"]


def test_a_folder_with_two_meshes_takes_the_largest_and_lists_the_other(tmp_path: Path):
    folder = tmp_path / "thing"
    (folder / "lod").mkdir(parents=True)
    trimesh.creation.icosphere(subdivisions=1).export(folder / "lod" / "small.ply")
    trimesh.creation.icosphere(subdivisions=4).export(folder / "big.ply")
    (entry,) = find_eval_meshes(tmp_path)
    assert entry.name == "thing" and entry.path.name == "big.ply" and entry.ignored == ("lod/small.ply",)
    assert load_eval_mesh(entry).num_faces == 5120


def test_problems_are_entries_and_a_corrupt_file_names_itself(tmp_path: Path):
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "broken.glb").write_bytes(b"glTF\x02\x00\x00\x00garbage")
    (tmp_path / "bad_meta").mkdir()
    _tall_box().export(tmp_path / "bad_meta" / "m.obj")
    (tmp_path / "bad_meta" / "meta.json").write_text('{"up": "sideways"}')
    entries = {e.name: e for e in find_eval_meshes(tmp_path)}
    assert "no mesh file" in entries["empty_folder"].problem
    assert "up must be one of" in entries["bad_meta"].problem
    assert entries["broken"].problem is None
    for name in entries:
        with pytest.raises(UserFacingError, match=name):
            load_eval_mesh(entries[name])


def test_a_folder_without_entries_or_missing_is_a_clear_error(tmp_path: Path):
    with pytest.raises(EvalFolderError, match="no mesh entries"):
        find_eval_meshes(tmp_path)
    with pytest.raises(EvalFolderError, match="does not exist"):
        find_eval_meshes(tmp_path / "absent")
    with pytest.raises(EvalFolderError, match="kind"):
        find_eval_meshes(tmp_path, kind="hollow")


def test_sidecars_give_up_and_kind_and_beat_every_convention(tmp_path: Path):
    _tall_box().export(tmp_path / "lying.glb")  # a glTF exported wrongly, Z up
    (tmp_path / "lying.json").write_text(json.dumps({"up": "z", "kind": "thin"}))
    (tmp_path / "cup").mkdir()
    _tall_box().export(tmp_path / "cup" / "model.obj")
    (tmp_path / "cup" / "meta.json").write_text(json.dumps({"up": "y", "kind": "solid"}))
    _tall_box().export(tmp_path / "plain.obj")
    entries = {e.name: e for e in find_eval_meshes(tmp_path, kind="thin")}
    assert (entries["lying"].up, entries["lying"].up_from, entries["lying"].kind) == ("z", "sidecar", "thin")
    assert (entries["cup"].up, entries["cup"].kind) == ("y", "solid")
    assert entries["plain"].kind == "thin"  # the folder-wide default where no sidecar says
    assert np.argmax(_extent(load_eval_mesh(entries["lying"]))) == 1  # left as stored
    assert np.argmax(_extent(load_eval_mesh(entries["cup"]))) == 2
    assert entry_for_file(tmp_path / "lying.glb").up_from == "sidecar"


def test_a_gltf_scene_with_nodes_transforms_and_mixed_materials_loads_whole(tmp_path: Path):
    """Two nodes (one textured, one with a plain material colour), each moved by its node's
    transform: every loader gets both parts where the transforms put them, Y up -> Z up."""
    from PIL import Image

    scene = trimesh.Scene()
    textured = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    image = Image.fromarray(np.full((8, 8, 3), (200, 30, 30), np.uint8))
    uv = np.random.default_rng(0).random((len(textured.vertices), 2))
    textured.visual = trimesh.visual.TextureVisuals(uv=uv, image=image)
    plain = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    plain.visual = trimesh.visual.TextureVisuals(material=trimesh.visual.material.PBRMaterial(baseColorFactor=[20, 200, 20, 255]))
    scene.add_geometry(textured, node_name="textured", transform=trimesh.transformations.translation_matrix([3.0, 0.0, 0.0]))
    scene.add_geometry(plain, node_name="up_high", transform=trimesh.transformations.translation_matrix([0.0, 5.0, 0.0]))
    path = tmp_path / "scene.glb"
    scene.export(path)
    entry = entry_for_file(path)
    for mesh in (load_eval_mesh(entry), load_oracle_mesh(path), load_textured_eval_mesh(entry)):
        assert mesh.num_faces == 24
        lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
        np.testing.assert_allclose(lo, [-0.5, -0.5, -0.5], atol=1e-5)
        np.testing.assert_allclose(hi, [3.5, 0.5, 5.5], atol=1e-5)  # glTF +Y (5) is our +Z
    textured_mesh = load_textured_eval_mesh(entry)
    # The plain part's corners address a slot of its own colour in the atlas.
    high = textured_mesh.vertices[textured_mesh.faces].mean(1)[:, 2] > 2
    u, v = textured_mesh.uvs[high].reshape(-1, 2).mean(0)
    h, w = textured_mesh.texture.shape[:2]
    np.testing.assert_allclose(
        textured_mesh.texture[int((1 - v) * (h - 1)), int(u * (w - 1))], [20 / 255, 200 / 255, 20 / 255], atol=0.01
    )


@needs_dev_meshes
def test_the_development_meshes_are_found_once_each_and_stand_upright():
    entries = find_eval_meshes(EVAL_ROOT)
    assert {e.name for e in entries} == set(UP_AXIS) and all(e.problem is None for e in entries)
    assert default_eval_root().resolve() == EVAL_ROOT.resolve()
    by_name = {e.name: load_eval_mesh(e) for e in entries}
    # The bunny, cheburashka and cat are taller than deep; the cup's opening is on top
    # (the top slice is a thin ring, the bottom slice a full disc).
    for name in ("bunny_stanford", "toy_cheburashka", "cat"):
        extent = _extent(by_name[name])
        assert extent[2] > extent[1], name
    cup = by_name["cup_blue"].vertices
    z = cup[:, 2]
    top = cup[z > z.max() - 0.05 * np.ptp(z)]
    assert np.linalg.norm(top[:, :2] - np.median(cup[:, :2], axis=0), axis=1).min() > 0.02


@pytest.mark.skipif(not THIN_ROOT.is_dir(), reason=f"thin meshes not found at {THIN_ROOT}")
def test_the_thin_glbs_load_upright_with_their_textures():
    for entry in find_eval_meshes(THIN_ROOT):
        assert entry.up_from == "glTF"
        if entry.name in ("tennis_racquet", "lamp_barn_wall"):
            continue  # lie flat / hang on a wall by design (their README)
        mesh = load_textured_eval_mesh(entry)
        raw = trimesh.load(entry.path, force="mesh", process=False, skip_materials=True)
        np.testing.assert_allclose(_extent(mesh), _extent(raw)[[0, 2, 1]], rtol=1e-5, err_msg=entry.name)
