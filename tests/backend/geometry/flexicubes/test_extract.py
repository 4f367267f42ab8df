import numpy as np
import pytest
import torch

from latentdreamer.geometry.flexicubes import case_table, flexicubes
from latentdreamer.geometry.grid import grid_points


def edge_counts(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Occurrences of each directed edge and of each undirected edge."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).astype(np.int64)
    n = int(faces.max()) + 1
    _, directed_count = np.unique(directed[:, 0] * n + directed[:, 1], return_counts=True)
    _, undirected_count = np.unique(directed.min(1) * n + directed.max(1), return_counts=True)
    return directed_count, undirected_count


def assert_closed_and_oriented(faces: np.ndarray, context: object = "") -> None:
    assert len(faces), f"no faces ({context})"
    assert (faces[:, 0] != faces[:, 1]).all() and (faces[:, 1] != faces[:, 2]).all() and (faces[:, 0] != faces[:, 2]).all()
    directed, undirected = edge_counts(faces)
    assert (undirected == 2).all(), f"edges not shared by exactly two faces ({context})"
    assert (directed == 1).all(), f"neighbouring faces with opposite winding ({context})"


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    v = vertices[faces].astype(np.float64)
    return float(np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6)


def area(vertices: np.ndarray, faces: np.ndarray) -> float:
    v = vertices[faces].astype(np.float64)
    return float(np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1).sum() / 2)


def winding_numbers(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Generalised winding number (sum of signed solid angles / 4 pi): 1 inside, 0 outside.

    Vectorised over points and faces for the hundreds of tiny meshes here, where
    geometry.winding_number's numba kernels cost ~10x more in per-call overhead."""
    tri = vertices[faces].astype(np.float64)[None] - points.astype(np.float64)[:, None, None]
    a, b, c = tri[:, :, 0], tri[:, :, 1], tri[:, :, 2]
    la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
    det = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
    dots = (
        la * lb * lc
        + np.einsum("pfi,pfi->pf", a, b) * lc
        + np.einsum("pfi,pfi->pf", b, c) * la
        + np.einsum("pfi,pfi->pf", c, a) * lb
    )
    return 2 * np.arctan2(det, dots).sum(1) / (4 * np.pi)


def sphere_sdf(cubes: int, radius: float = 0.4, dtype=torch.float32) -> torch.Tensor:
    return torch.from_numpy(grid_points(cubes + 1)).to(dtype).norm(dim=-1) - radius


def assert_separates(mesh, sdf: torch.Tensor, context: object) -> None:
    """The surface must enclose exactly the inside grid vertices."""
    points = grid_points(sdf.shape[0]).reshape(-1, 3)
    w = winding_numbers(mesh.vertices.detach().numpy(), mesh.faces.numpy(), points)
    inside = sdf.reshape(-1).numpy() < 0
    assert np.allclose(w[inside], 1, atol=1e-6) and np.allclose(w[~inside], 0, atol=1e-6), context


def case_grid(case: int, rng: np.random.Generator) -> torch.Tensor:
    """A 3^3-cube grid, positive everywhere except the central cube's inside corners."""
    sdf = rng.uniform(0.2, 1.0, (4, 4, 4))
    for c in range(8):
        if (case >> c) & 1:
            sdf[1 + (c & 1), 1 + (c >> 1 & 1), 1 + (c >> 2 & 1)] = -rng.uniform(0.2, 1.0)
    return torch.from_numpy(sdf)


@pytest.mark.parametrize("training", [False, True])
def test_every_case_gives_a_closed_outward_surface_around_its_inside_corners(training):
    rng = np.random.default_rng(0)
    for case in range(1, 256):
        sdf = case_grid(case, rng)
        mesh = flexicubes(sdf, training=training)
        faces, vertices = mesh.faces.numpy(), mesh.vertices.numpy()
        assert_closed_and_oriented(faces, case)
        assert signed_volume(vertices, faces) > 0, case
        assert_separates(mesh, sdf, case)


def ambiguous_pairs() -> list[tuple[int, int, int]]:
    """(axis, low case, high case) of neighbouring one-sheet cubes meeting on their ambiguous face."""
    t = case_table()
    pairs = []
    for axis in range(3):
        low = [c for c in range(256) if t.ambiguous_face[c] == 2 * axis + 1]
        high = [c for c in range(256) if t.ambiguous_face[c] == 2 * axis]
        shared = [c for c in range(8) if not (c >> axis) & 1]
        for a in low:
            for b in high:
                if all((a >> (c | 1 << axis)) & 1 == (b >> c) & 1 for c in shared):
                    pairs.append((axis, a, b))
    return pairs


def test_ambiguity_fix_keeps_neighbouring_one_sheet_cubes_manifold():
    pairs = ambiguous_pairs()
    assert len(pairs) >= 3 * 6
    rng = np.random.default_rng(1)
    for axis, a, b in pairs:
        sdf = rng.uniform(0.2, 1.0, (5, 5, 5))
        for case, base in ((a, 1), (b, 2)):
            for c in range(8):
                ijk = [1 + (c & 1), 1 + (c >> 1 & 1), 1 + (c >> 2 & 1)]
                ijk[axis] += base - 1
                if (case >> c) & 1:
                    sdf[tuple(ijk)] = -rng.uniform(0.2, 1.0)
        sdf = torch.from_numpy(sdf)
        mesh = flexicubes(sdf)
        assert_closed_and_oriented(mesh.faces.numpy(), (axis, a, b))
        assert_separates(mesh, sdf, (axis, a, b))


# Area and volume of the extracted sphere (radius 0.4) converge like h^2: relative tolerances
# are about twice the errors measured with default weights (-0.84/-0.45 %, -0.21/-0.11 %,
# -0.05/-0.03 % for volume/area at 32/64/128 cubes).
SPHERE_TOLERANCE = {32: 0.015, 64: 0.004, 128: 0.001}


@pytest.mark.parametrize("cubes", sorted(SPHERE_TOLERANCE))
def test_sphere_is_watertight_genus_zero_and_accurate(cubes):
    r = 0.4
    mesh = flexicubes(sphere_sdf(cubes, r))
    vertices, faces = mesh.vertices.numpy(), mesh.faces.numpy()
    assert_closed_and_oriented(faces, cubes)
    _, undirected = edge_counts(faces)
    assert len(vertices) - len(undirected) + len(faces) == 2
    assert np.unique(faces).size == len(vertices)  # no unused vertices
    tol = SPHERE_TOLERANCE[cubes]
    assert signed_volume(vertices, faces) == pytest.approx(4 / 3 * np.pi * r**3, rel=tol)
    assert area(vertices, faces) == pytest.approx(4 * np.pi * r**2, rel=tol)
    assert np.abs(np.linalg.norm(vertices, axis=1) - r).max() < 0.05 * 1.1 / cubes


def test_training_mode_refines_the_inference_surface():
    sdf = sphere_sdf(32)
    gamma_raw = torch.randn(32**3, generator=torch.Generator().manual_seed(0))
    coarse = flexicubes(sdf, gamma_raw=gamma_raw)
    fine = flexicubes(sdf, gamma_raw=gamma_raw, training=True)
    assert torch.equal(fine.vertices[: len(coarse.vertices)], coarse.vertices)
    assert len(fine.faces) == 2 * len(coarse.faces)
    assert_closed_and_oriented(fine.faces.numpy(), "training")
    v_coarse = signed_volume(coarse.vertices.numpy(), coarse.faces.numpy())
    v_fine = signed_volume(fine.vertices.numpy(), fine.faces.numpy())
    assert v_fine == pytest.approx(v_coarse, rel=2e-3)


def test_gamma_picks_the_quad_diagonal():
    sdf = sphere_sdf(16)
    flat = flexicubes(sdf).faces
    i, j, k = torch.meshgrid(*[torch.arange(16)] * 3, indexing="ij")
    even = ((i + j + k) % 2 == 0).reshape(-1)
    for strong in (even, ~even):  # diagonal cubes of a quad share parity: one diagonal wins everywhere
        split = flexicubes(sdf, gamma_raw=torch.where(strong, 5.0, -5.0)).faces
        assert_closed_and_oriented(split.numpy(), "gamma")
        diagonals = np.sort(split.numpy().reshape(-1, 6)[:, [0, 2]], axis=1)  # both halves start on the diagonal
        assert len(split) == len(flat)
        if strong is even:
            first = diagonals
        else:
            assert not np.array_equal(first, diagonals)


def test_dense_evaluation_gives_the_same_mesh():
    sdf = sphere_sdf(16) + 0.02 * torch.sin(40 * torch.from_numpy(grid_points(17))).sum(-1)
    gen = torch.Generator().manual_seed(3)
    weights = dict(
        beta_raw=torch.randn(16**3, 12, generator=gen),
        alpha_raw=torch.randn(16**3, 8, generator=gen),
        gamma_raw=torch.randn(16**3, generator=gen),
        deform_raw=torch.randn(17, 17, 17, 3, generator=gen),
    )
    for training in (False, True):
        sparse = flexicubes(sdf, training=training, **weights)
        dense = flexicubes(sdf, training=training, _dense=True, **weights)
        assert torch.equal(sparse.faces, dense.faces)
        assert torch.allclose(sparse.vertices, dense.vertices, atol=1e-6)
        assert torch.equal(sparse.edge_sdf, dense.edge_sdf)


def test_deformation_moves_vertices_by_at_most_half_a_cell():
    sdf = sphere_sdf(16)
    big = torch.full((17, 17, 17, 3), 50.0)
    moved = flexicubes(sdf, deform_raw=big).vertices
    still = flexicubes(sdf).vertices
    half_cell = 0.55 / 16
    shift = moved - still
    assert shift.abs().max() <= half_cell + 1e-6 and shift.abs().max() > 0.9 * half_cell


def small_sdf() -> torch.Tensor:
    """A lumpy blob on 4^3 cubes, |s| >= 0.03 everywhere so finite differences keep the topology."""
    p = torch.from_numpy(grid_points(5)).double()
    s = p.norm(dim=-1) - 0.33 + 0.02 * torch.sin(7 * p[..., 0] + 3 * p[..., 1])
    assert s.abs().min() > 0.03
    return s


@pytest.mark.parametrize("name", ["sdf", "alpha_raw", "beta_raw", "gamma_raw", "deform_raw"])
def test_gradients_reach_every_input(name):
    sdf = small_sdf()
    n, cubes = 5, 4**3
    gen = torch.Generator().manual_seed(7)
    inputs = {
        "sdf": sdf,
        "alpha_raw": 0.3 * torch.randn(cubes, 8, generator=gen, dtype=torch.float64),
        "beta_raw": 0.3 * torch.randn(cubes, 12, generator=gen, dtype=torch.float64),
        "gamma_raw": 0.3 * torch.randn(cubes, generator=gen, dtype=torch.float64),
        "deform_raw": 0.3 * torch.randn(n, n, n, 3, generator=gen, dtype=torch.float64),
    }
    x = inputs.pop(name).clone().requires_grad_(True)

    def vertices(value: torch.Tensor) -> torch.Tensor:
        return flexicubes(**{**inputs, name: value}, training=True).vertices

    (grad,) = torch.autograd.grad(vertices(x).sum(), x)
    assert grad.abs().max() > 0
    # fast mode checks random projections of the Jacobian, so a few passes suffice
    assert torch.autograd.gradcheck(vertices, (x,), eps=1e-6, atol=1e-6, fast_mode=True)


def union_sdf(seed: int, n: int) -> torch.Tensor:
    """Union of random spheres and boxes, well inside the grid (fallback random shapes)."""
    rng = np.random.default_rng(seed)
    p = grid_points(n).astype(np.float64)
    s = np.full(p.shape[:3], np.inf)
    for _ in range(rng.integers(2, 6)):
        centre = rng.uniform(-0.2, 0.2, 3)
        size = rng.uniform(0.05, 0.2, 3)
        if rng.random() < 0.5:
            part = np.linalg.norm(p - centre, axis=-1) - size[0]
        else:
            q = np.abs(p - centre) - size
            part = np.linalg.norm(np.maximum(q, 0), axis=-1) + np.minimum(q.max(-1), 0)
        s = np.minimum(s, part)
    return torch.from_numpy(s.astype(np.float32))


def random_shape(seed: int, n: int) -> torch.Tensor:
    try:
        from latentdreamer.geometry.random_shapes import random_sdf
    except ImportError:
        return union_sdf(seed, n)
    return torch.from_numpy(random_sdf(seed, n))


@pytest.mark.parametrize("seed", range(4))
def test_random_shapes_are_watertight(seed):
    sdf = random_shape(seed, 41)
    for training in (False, True):
        mesh = flexicubes(sdf, training=training)
        assert_closed_and_oriented(mesh.faces.numpy(), (seed, training))
        assert signed_volume(mesh.vertices.numpy(), mesh.faces.numpy()) > 0


def test_empty_grid_gives_an_empty_mesh():
    mesh = flexicubes(torch.ones(9, 9, 9))
    assert mesh.vertices.shape == (0, 3) and mesh.faces.shape == (0, 3)


def test_weights_of_the_wrong_shape_are_refused():
    sdf = sphere_sdf(8)
    with pytest.raises(ValueError, match="beta_raw"):
        flexicubes(sdf, beta_raw=torch.zeros(8**3, 8))
    with pytest.raises(ValueError, match="deform_raw"):
        flexicubes(sdf, deform_raw=torch.zeros(8, 8, 8, 3))
    with pytest.raises(ValueError, match="sdf"):
        flexicubes(torch.zeros(4, 4, 5))
