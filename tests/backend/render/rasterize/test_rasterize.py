"""End to end: silhouettes and normals alone pull a sphere onto a target through the rasteriser."""

import torch
import trimesh

from latentdreamer.render.cameras import prior_cameras, to_clip
from latentdreamer.render.rasterize import antialias, interpolate, rasterize


def _vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    a, b, c = verts[faces].unbind(1)
    face_n = torch.linalg.cross(b - a, c - a, dim=-1)
    n = torch.zeros_like(verts).index_add(0, faces.reshape(-1), face_n.repeat_interleave(3, 0))
    return torch.nn.functional.normalize(n, dim=-1)


def _render(verts: torch.Tensor, faces: torch.Tensor, res: tuple[int, int]) -> torch.Tensor:
    pos = to_clip(verts, prior_cameras())
    tri = faces.to(torch.int32)
    rast = rasterize(pos, tri, res)
    mask = (rast[..., 3:] > 0).to(verts.dtype)
    image = torch.cat([mask, interpolate(_vertex_normals(verts, faces), rast, tri)], -1)
    return antialias(image, rast, pos, tri)


def test_silhouette_and_normal_losses_recover_translation_and_scale():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    unit = torch.tensor(sphere.vertices, dtype=torch.float32)
    faces = torch.tensor(sphere.faces)
    res = (48, 48)
    true_centre, true_radius = torch.tensor([0.07, -0.05, 0.04]), 0.33
    with torch.no_grad():
        target = _render(unit * true_radius + true_centre, faces, res)
    centre = torch.zeros(3, requires_grad=True)
    log_radius = torch.tensor(float(torch.log(torch.tensor(0.26))), requires_grad=True)
    opt = torch.optim.Adam([centre, log_radius], lr=0.025)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = (_render(unit * log_radius.exp() + centre, faces, res) - target).abs().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    start_error = true_centre.norm() + abs(0.26 - true_radius)
    error = (centre.detach() - true_centre).norm() + abs(log_radius.exp().item() - true_radius)
    assert losses[-1] < 0.25 * losses[0]
    assert error < 0.15 * start_error
