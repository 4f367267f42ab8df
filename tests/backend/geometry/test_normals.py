import torch
import trimesh

from latentdreamer.geometry.normals import face_normals, vertex_normals


def test_sphere_normals_point_outward_along_the_radius():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.4)
    v = torch.tensor(sphere.vertices, dtype=torch.float64)
    f = torch.tensor(sphere.faces)
    n = vertex_normals(v, f)
    assert torch.allclose(n.norm(dim=1), torch.ones(len(v), dtype=v.dtype))
    assert (n * v / 0.4).sum(dim=1).min() > 0.999
    centres = v[f].mean(dim=1)
    assert (face_normals(v, f) * torch.nn.functional.normalize(centres, dim=1)).sum(dim=1).min() > 0.99


def test_vertex_normals_are_area_weighted():
    # Vertex 0 shared by a big triangle in the z=0 plane and a tiny one in the x=0 plane.
    v = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0.01], [0, -0.01, 0]], dtype=torch.float64)
    f = torch.tensor([[0, 1, 2], [0, 3, 4]])
    n = vertex_normals(v, f)[0]
    expected = torch.nn.functional.normalize(torch.tensor([0.5 * 1e-4, 0, 0.5], dtype=torch.float64), dim=0)
    assert torch.allclose(n, expected)
    assert torch.allclose(face_normals(v, f, unit=False)[0], torch.tensor([0, 0, 1.0], dtype=torch.float64))


def test_gradients_reach_positions():
    sphere = trimesh.creation.icosphere(subdivisions=0)
    v = torch.tensor(sphere.vertices, dtype=torch.float64, requires_grad=True)
    f = torch.tensor(sphere.faces)
    assert torch.autograd.gradcheck(lambda x: vertex_normals(x, f), (v,))
    assert torch.autograd.gradcheck(lambda x: face_normals(x, f), (v,))
