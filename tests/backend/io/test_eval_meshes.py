from pathlib import Path

import numpy as np
import pytest

from latentdreamer.io.eval_meshes import UP_AXIS, default_eval_root, entry_name, eval_mesh_paths, load_eval_mesh

EVAL_ROOT = Path(__file__).resolve().parents[3] / ".." / "shared" / "eval" / "meshes"
pytestmark = pytest.mark.skipif(not EVAL_ROOT.is_dir(), reason=f"eval meshes not found at {EVAL_ROOT}")


def test_every_entry_is_found_once_and_has_an_orientation():
    paths = eval_mesh_paths(EVAL_ROOT)
    names = [entry_name(p) for p in paths]
    assert len(names) == len(set(names)) == len(list(EVAL_ROOT.iterdir())) - (EVAL_ROOT / "README.md").exists()
    assert set(names) == set(UP_AXIS)
    assert default_eval_root().resolve() == EVAL_ROOT.resolve()


def test_loaded_meshes_stand_upright():
    # Upright objects rest on their base: the lowest vertices (along Z after loading) cover a
    # wide patch, so the extent along Z is not the one along the old Y for Y-up files.
    for path in eval_mesh_paths(EVAL_ROOT):
        mesh = load_eval_mesh(path)
        assert mesh.num_faces > 1000 and mesh.colors is None
        if UP_AXIS[entry_name(path)] == "y":
            import trimesh

            raw = trimesh.load(path, force="mesh", process=False, skip_materials=True)
            np.testing.assert_allclose(mesh.vertices[:, 2], raw.vertices[:, 1], rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(mesh.vertices[:, 1], -raw.vertices[:, 2], rtol=1e-6, atol=1e-6)


def test_known_objects_are_upright():
    by_name = {entry_name(p): load_eval_mesh(p) for p in eval_mesh_paths(EVAL_ROOT)}
    # The bunny, cheburashka and cat are taller than deep; the cup's opening is on top
    # (the top slice is a thin ring, the bottom slice a full disc).
    for name in ("bunny_stanford", "toy_cheburashka", "cat"):
        v = by_name[name].vertices
        extent = v.max(0) - v.min(0)
        assert extent[2] > extent[1], name
    cup = by_name["cup_blue"].vertices
    z = cup[:, 2]
    top = cup[z > z.max() - 0.05 * np.ptp(z)]
    assert np.linalg.norm(top[:, :2] - np.median(cup[:, :2], axis=0), axis=1).min() > 0.02
