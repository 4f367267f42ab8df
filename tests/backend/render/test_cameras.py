"""Camera adjustments (render/cameras.adjusted): identity at zero, each correction does what
its docstring says, and gradients reach every correction."""

import math

import torch

from latentdreamer.render.cameras import PRIOR_AZIMUTHS_DEG, PRIOR_ELEVATIONS_DEG, adjusted, orbit_cameras, prior_cameras, to_clip


def _zeros(n: int = 6) -> dict[str, torch.Tensor]:
    return {"shift": torch.zeros(n, 2), "rotation": torch.zeros(n), "log_scale": torch.zeros(n), "elevation": torch.zeros(())}


def _ndc(points: torch.Tensor, cameras) -> torch.Tensor:
    clip = to_clip(points, cameras)
    return clip[..., :2] / clip[..., 3:]


def test_zero_corrections_give_the_cameras_back() -> None:
    base = prior_cameras()
    same = adjusted(base, **_zeros())
    assert torch.allclose(same.view, base.view, atol=1e-6)
    assert torch.allclose(same.proj, base.proj, atol=1e-6)
    assert torch.allclose(same.positions, base.positions, atol=1e-5)


def test_elevation_raises_every_camera_along_its_meridian() -> None:
    delta = math.radians(4.0)
    moved = adjusted(prior_cameras(), **{**_zeros(), "elevation": torch.tensor(delta)})
    expected = orbit_cameras(PRIOR_AZIMUTHS_DEG, [e + 4.0 for e in PRIOR_ELEVATIONS_DEG])
    assert torch.allclose(moved.view, expected.view, atol=1e-5)
    assert torch.allclose(moved.positions, expected.positions, atol=1e-4)


def test_shift_scale_and_rotation_move_the_image_as_documented() -> None:
    base = prior_cameras()
    points = torch.tensor([[0.1, -0.2, 0.15], [0.0, 0.0, 0.0], [-0.3, 0.1, -0.05]])
    before = _ndc(points, base)
    shift = torch.tensor([[0.05, -0.02]] * 6)
    angle, zoom = 0.1, 0.05
    after = _ndc(
        points,
        adjusted(base, shift, torch.full((6,), angle), torch.full((6,), zoom), torch.zeros(())),
    )
    c, s = math.cos(angle), math.sin(angle)
    turned = torch.stack([c * before[..., 0] - s * before[..., 1], s * before[..., 0] + c * before[..., 1]], -1)
    assert torch.allclose(after, math.exp(zoom) * turned + shift[:, None], atol=1e-5)


def test_rotation_turns_the_camera_space_normals_with_the_image() -> None:
    base = prior_cameras()
    angle = 0.3
    turned = adjusted(base, **{**_zeros(), "rotation": torch.full((6,), angle)})
    normal = torch.tensor([0.3, -0.5, 0.8])
    n0 = base.view[:, :3, :3] @ normal
    n1 = turned.view[:, :3, :3] @ normal
    c, s = math.cos(angle), math.sin(angle)
    assert torch.allclose(n1[:, 0], c * n0[:, 0] - s * n0[:, 1], atol=1e-6)
    assert torch.allclose(n1[:, 2], n0[:, 2], atol=1e-6)


def test_gradients_reach_every_correction() -> None:
    values = {k: (v + 0.01).requires_grad_(True) for k, v in _zeros().items()}
    ndc = _ndc(torch.tensor([[0.1, 0.2, 0.3], [-0.2, 0.1, 0.0]]), adjusted(prior_cameras(), **values))
    ndc.square().sum().backward()
    for name, value in values.items():
        assert value.grad is not None and value.grad.abs().sum() > 0, name
