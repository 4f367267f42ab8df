from pathlib import Path

import numpy as np
import pytest
import trimesh

from latentdreamer.geometry.grid import grid_points, voxel_size
from latentdreamer.geometry.mesh_to_sdf import mesh_to_sdf
from latentdreamer.geometry.normalise import fit_in_sphere
from latentdreamer.geometry.winding_number import exact_winding_numbers

EVAL_ROOT = Path(__file__).resolve().parents[3] / ".." / "shared" / "eval" / "meshes"


def test_sphere_sdf_matches_the_analytic_distance():
    n = 48
    h = voxel_size(n)
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.35)
    sdf = mesh_to_sdf(sphere.vertices, sphere.faces, n)
    true = np.linalg.norm(grid_points(n), axis=-1) - 0.35
    assert sdf.shape == (n, n, n) and sdf.dtype == np.float32
    band = np.abs(true) < 2.5 * h
    # Exact triangle distances near the surface (icosphere chord error ~1e-3), a voxel elsewhere.
    assert np.abs(sdf - true)[band].max() < 0.15 * h
    assert np.abs(sdf - true).max() < 1.0 * h
    np.testing.assert_array_equal(sdf < 0, true < 0)


def test_badly_wound_multi_part_and_open_meshes_get_a_closed_inside():
    n = 32
    a = trimesh.creation.box(extents=(0.3, 0.3, 0.3))
    a.apply_translation((-0.2, 0, 0))
    b = trimesh.creation.icosphere(subdivisions=3, radius=0.18)
    b.apply_translation((0.2, 0, 0))
    faces_b = b.faces.copy()
    faces_b[::3] = faces_b[::3, ::-1]  # a third of the sphere's faces wound the wrong way
    vertices = np.concatenate([a.vertices, b.vertices])
    faces = np.concatenate([a.faces[:, ::-1], faces_b + len(a.vertices)])  # the box inside out
    keep = np.ones(len(faces), bool)
    keep[len(a.faces) :][b.triangles_center[:, 2] > 0.15] = False  # a hole in the sphere's top
    sdf = mesh_to_sdf(vertices, faces[keep], n)
    points = grid_points(n)
    inside_box = np.all(np.abs(points - (-0.2, 0, 0)) < 0.14, axis=-1)
    inside_ball = np.linalg.norm(points - (0.2, 0, 0), axis=-1) < 0.16
    outside = ~(np.all(np.abs(points - (-0.2, 0, 0)) < 0.16, axis=-1) | (np.linalg.norm(points - (0.2, 0, 0), axis=-1) < 0.2))
    assert (sdf[inside_box] < 0).all() and (sdf[inside_ball] < 0).all() and (sdf[outside] > 0).all()


def test_random_shape_survives_flexicubes_and_back():
    # SDF -> FlexiCubes mesh -> mesh_to_sdf: the same inside, distances within half a voxel.
    import torch

    from latentdreamer.geometry.flexicubes import flexicubes
    from latentdreamer.geometry.random_shapes import random_sdf

    n = 32
    sdf = random_sdf(1, n)
    mesh = flexicubes(torch.from_numpy(sdf)).to_mesh()
    back = mesh_to_sdf(mesh.vertices, mesh.faces, n)
    np.testing.assert_array_equal(back < 0, sdf < 0)
    assert np.abs(back - sdf).max() <= 0.5 * voxel_size(n) + 1e-5


@pytest.mark.skipif(not EVAL_ROOT.is_dir(), reason=f"eval meshes not found at {EVAL_ROOT}")
def test_every_eval_mesh_gives_a_closed_sdf_matching_its_winding_number_inside():
    from latentdreamer.io.eval_meshes import find_eval_meshes, load_eval_mesh

    n = 64
    rng = np.random.default_rng(0)
    points = grid_points(n).reshape(-1, 3)
    for entry in find_eval_meshes(EVAL_ROOT):
        mesh = fit_in_sphere(load_eval_mesh(entry))
        sdf = mesh_to_sdf(mesh.vertices, mesh.faces, n)
        inside = sdf.reshape(-1) < 0
        shell = np.concatenate([sdf[[0, -1]].ravel(), sdf[:, [0, -1]].ravel(), sdf[:, :, [0, -1]].ravel()])
        assert (shell > 0).all(), entry.name
        # Reference: direct winding-number sums on a random subset, biased towards the surface.
        near = np.flatnonzero(np.abs(sdf.reshape(-1)) < 3 * voxel_size(n))
        subset = np.concatenate([rng.choice(len(points), 150, replace=False), rng.choice(near, 150, replace=False)])
        reference = np.abs(exact_winding_numbers(mesh.vertices, mesh.faces, points[subset])) > 0.5
        got = inside[subset]
        iou = np.sum(got & reference) / np.sum(got | reference)
        assert iou > 0.97, (entry.name, iou)
        # Volume check independent of winding numbers, for the watertight ones.
        tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
        if tm.is_watertight:
            volume = inside.sum() * voxel_size(n) ** 3
            assert abs(volume - abs(tm.volume)) < 0.06 * abs(tm.volume), entry.name
