import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import cKDTree

from latentdreamer.geometry.mesh import Mesh
from latentdreamer.geometry.subdivision import loop_subdivision, subdivide_mesh

TETRA_V = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float64) * 0.3
TETRA_F = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])


def hex_disk(rings: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """An open, flat-ish triangulated hexagon whose boundary edges are the only edges joining
    boundary vertices (so trimesh's boundary rule and ours coincide)."""
    # A fan of 6 triangles, then subdivided once with midpoint splitting: still no interior
    # edge between two boundary vertices.
    angles = np.arange(6) * np.pi / 3
    ring = np.stack([np.cos(angles), np.sin(angles), 0.1 * np.cos(3 * angles)], axis=1)
    v = np.concatenate([[[0.0, 0.0, 0.2]], ring])
    f = np.array([[0, 1 + i, 1 + (i + 1) % 6] for i in range(6)])
    for _ in range(rings - 1):
        v, f = trimesh.remesh.subdivide(v, f)
    return np.asarray(v, np.float64), np.asarray(f, np.int64)


def assert_same_subdivision(ours_v, ours_f, ref_v, ref_f, atol=1e-6):
    assert len(ours_v) == len(ref_v)
    assert len(ours_f) == len(ref_f)
    dist, idx = cKDTree(ref_v).query(ours_v)
    assert dist.max() < atol
    assert len(np.unique(idx)) == len(ref_v)  # a bijection between the vertex sets
    # Faces: same triangles (as sets of reference vertices, with orientation) after mapping.
    mapped = idx[ours_f]
    canon = lambda f: {tuple(np.roll(t, -int(np.argmin(t)))) for t in f}  # noqa: E731
    assert canon(mapped) == canon(ref_f)


@pytest.mark.parametrize("iterations", [1, 2])
def test_matches_trimesh_with_loop_beta_on_closed_mesh(iterations):
    sphere = trimesh.creation.icosphere(subdivisions=1)  # valences 5 and 6
    sub = loop_subdivision(sphere.faces, len(sphere.vertices), iterations=iterations, beta="loop")
    ours = sub(torch.from_numpy(sphere.vertices)).numpy()
    ref_v, ref_f = trimesh.remesh.subdivide_loop(sphere.vertices, sphere.faces, iterations=iterations)
    assert_same_subdivision(ours, sub.faces.numpy(), ref_v, ref_f)


def test_warren_and_loop_beta_differ_only_off_valence_3_and_6():
    sphere = trimesh.creation.icosphere(subdivisions=0)  # valence 5 everywhere
    v = torch.from_numpy(sphere.vertices)
    warren = loop_subdivision(sphere.faces, len(v), beta="warren")(v)
    loop = loop_subdivision(sphere.faces, len(v), beta="loop")(v)
    n = len(v)
    assert torch.allclose(warren[n:], loop[n:])  # odd vertices do not depend on beta
    assert (warren[:n] - loop[:n]).norm(dim=1).min() > 1e-3
    # Warren's beta = 3/40 for valence 5: the even vertex shrinks to 5/8 + 5 * 3/40 * (neighbour mean).
    nb_mean = np.array([sphere.vertices[list(sphere.vertex_neighbors[i])].mean(0) for i in range(n)])
    expected = 0.625 * sphere.vertices + 0.375 * nb_mean
    np.testing.assert_allclose(warren[:n].numpy(), expected, atol=1e-6)


def test_warren_matches_trimesh_on_valence_3_and_6():
    # Tetrahedron: valence 3, its first subdivision adds valence-6 vertices.
    sub = loop_subdivision(TETRA_F, 4, iterations=2, beta="warren")
    ours = sub(torch.from_numpy(TETRA_V)).numpy()
    ref_v, ref_f = trimesh.remesh.subdivide_loop(TETRA_V, TETRA_F, iterations=2)
    assert_same_subdivision(ours, sub.faces.numpy(), ref_v, ref_f)


def test_open_mesh_boundary_rules_match_trimesh():
    v, f = hex_disk(rings=2)
    sub = loop_subdivision(f, len(v), beta="loop")
    ours = sub(torch.from_numpy(v)).numpy()
    ref_v, ref_f = trimesh.remesh.subdivide_loop(v, f, iterations=1)
    assert_same_subdivision(ours, sub.faces.numpy(), ref_v, ref_f)


def test_boundary_vertex_uses_crease_rule_and_corner_stays_fixed():
    # A single triangle: every vertex touches two boundary edges (crease rule 3/4, 1/8, 1/8);
    # odd vertices are midpoints.
    v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    out = loop_subdivision(np.array([[0, 1, 2]]), 3)(torch.from_numpy(v)).numpy()
    np.testing.assert_allclose(out[0], 0.75 * v[0] + 0.125 * (v[1] + v[2]))
    mids = {tuple(np.round(p, 9)) for p in out[3:]}
    assert mids == {(0.5, 0, 0), (0, 0.5, 0), (0.5, 0.5, 0)}
    # A vertex where two triangles touch only at a corner (four boundary edges) stays put.
    v2 = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]])
    f2 = np.array([[0, 1, 2], [0, 3, 4]])
    out2 = loop_subdivision(f2, 5)(torch.from_numpy(v2)).numpy()
    np.testing.assert_allclose(out2[0], v2[0])


def test_rows_are_affine_and_faces_are_consistently_oriented():
    sphere = trimesh.creation.icosphere(subdivisions=2)
    sub = loop_subdivision(sphere.faces, len(sphere.vertices), iterations=2)
    ones = sub(torch.ones(len(sphere.vertices), dtype=torch.float64))
    assert torch.allclose(ones, torch.ones_like(ones))
    out = trimesh.Trimesh(sub(torch.from_numpy(sphere.vertices)).numpy(), sub.faces.numpy(), process=False)
    assert len(out.faces) == 16 * len(sphere.faces)
    assert out.is_watertight and out.is_winding_consistent and out.volume > 0


def test_gradients_flow_to_positions_and_attributes():
    sub = loop_subdivision(TETRA_F, 4, iterations=1)
    pos = torch.from_numpy(TETRA_V).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: sub(x), (pos,))
    feats = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: sub(x), (feats,))
    sub(pos).pow(2).sum().backward()
    assert pos.grad is not None and pos.grad.abs().sum() > 0


def test_colours_are_interpolated_with_the_mesh():
    colors = np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1], [1, 1, 1, 1]], np.float32)
    mesh = Mesh(TETRA_V, TETRA_F, colors)
    out = subdivide_mesh(mesh)
    assert out.num_vertices == 4 + 6 and out.num_faces == 16
    sub = loop_subdivision(TETRA_F, 4)
    np.testing.assert_allclose(out.vertices, sub(torch.from_numpy(TETRA_V)).numpy(), atol=1e-6)
    # Each edge vertex: 3/8 of each endpoint's colour plus 1/8 of the two opposite corners'.
    expected = {
        tuple(np.round(3 / 8 * (colors[a] + colors[b]) + 1 / 8 * (colors[c] + colors[d]), 6))
        for a, b in [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
        for c, d in [tuple(set(range(4)) - {a, b})]
    }
    assert {tuple(np.round(out.colors[i], 6)) for i in range(4, 10)} == expected
    assert out.colors.min() >= 0 and out.colors.max() <= 1
    assert subdivide_mesh(Mesh(TETRA_V, TETRA_F)).colors is None


def test_operator_is_reusable_for_a_batch_of_features_and_on_float32():
    sphere = trimesh.creation.icosphere(subdivisions=1)
    sub = loop_subdivision(torch.from_numpy(sphere.faces), len(sphere.vertices))
    feats = torch.randn(len(sphere.vertices), 7)
    out = sub(feats)
    assert out.shape == (sub.num_vertices, 7) and out.dtype == torch.float32
    np.testing.assert_allclose(out[:, 2].numpy(), sub(feats[:, 2]).numpy(), atol=1e-6)
