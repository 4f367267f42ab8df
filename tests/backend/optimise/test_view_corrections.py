"""ViewCorrections: zero at the start, the prior pulls back, and with the shape fixed the
image losses recover corrections that were applied to the views."""

import math

import torch

from latentdreamer.geometry.example_object import example_object
from latentdreamer.geometry.normalise import fit_in_sphere
from latentdreamer.optimise.losses import image_terms
from latentdreamer.optimise.targets import ViewTargets
from latentdreamer.optimise.view_corrections import ViewCorrections
from latentdreamer.render.cameras import adjusted, prior_cameras
from latentdreamer.render.views import render_views


def _blob() -> tuple[torch.Tensor, torch.Tensor]:
    mesh = fit_in_sphere(example_object(seed=3, resolution=32))
    return torch.from_numpy(mesh.vertices).float(), torch.from_numpy(mesh.faces).long()


def test_starts_at_the_given_cameras_with_no_cost() -> None:
    base = prior_cameras()
    corrections = ViewCorrections(6, torch.device("cpu"), weight=1.0)
    assert torch.allclose(corrections.cameras(base).mvp, base.mvp, atol=1e-6)
    assert float(corrections.regulariser().detach()) == 0.0
    assert corrections.summary(320) == {
        "view_shift_px": 0.0,
        "view_turn_deg": 0.0,
        "view_zoom_pct": 0.0,
        "view_elevation_deg": 0.0,
    }


def test_a_common_zoom_is_the_objects_size_and_costs_nothing() -> None:
    base = prior_cameras()
    corrections = ViewCorrections(6, torch.device("cpu"), weight=1.0)
    with torch.no_grad():
        corrections.log_scale += 0.1
    assert torch.allclose(corrections.cameras(base).mvp, base.mvp, atol=1e-6)
    assert float(corrections.regulariser().detach()) == 0.0


def test_recovers_shifts_turns_and_elevation_put_into_the_views() -> None:
    vertices, faces = _blob()
    base = prior_cameras()
    generator = torch.Generator().manual_seed(0)
    shift = torch.randn(6, 2, generator=generator) * 0.02
    turn = torch.randn(6, generator=generator) * math.radians(1.5)
    lift = torch.tensor(math.radians(3.0))
    truth = adjusted(base, shift, turn, torch.zeros(6), lift)
    with torch.no_grad():
        seen = render_views(vertices, faces, truth, 64)
    targets = ViewTargets(mask=seen.mask, rgb=seen.normals, normals=seen.normals)

    corrections = ViewCorrections(6, torch.device("cpu"), weight=1e-5)
    optimiser = torch.optim.Adam([corrections.param_group()])
    start = None
    for _ in range(150):
        optimiser.zero_grad()
        l_mask, l_normal = image_terms(render_views(vertices, faces, corrections.cameras(base), 64), targets)
        loss = 10 * l_mask + l_normal + corrections.regulariser()
        start = float(loss.detach()) if start is None else start
        loss.backward()
        optimiser.step()
    assert float(loss.detach()) < 0.2 * start
    # within a fifth of a pixel at 64 px, a fifth of a degree (each view), half a degree (set)
    assert (corrections.shift.detach() - shift).abs().max() < 0.2 * 2 / 64
    assert (corrections.rotation.detach() - turn).abs().max() < math.radians(0.2)
    assert abs(float(corrections.elevation.detach()) - float(lift)) < math.radians(0.5)
