"""Cameras in the object frame (docs/design.md §4), kept in one place so a convention flip is one line.

Camera space is OpenGL's: x right, y up, the camera looks down -z. Clip space is what
the rasteriser consumes (nvdiffrast's convention): NDC y = -1 is image row 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

PRIOR_AZIMUTHS_DEG: tuple[float, ...] = (30.0, 90.0, 150.0, 210.0, 270.0, 330.0)
PRIOR_ELEVATIONS_DEG: tuple[float, ...] = (20.0, -10.0, 20.0, -10.0, 20.0, -10.0)
PRIOR_FOV_DEG: float = 30.0
PRIOR_DISTANCE: float = 0.5 / math.tan(math.radians(PRIOR_FOV_DEG / 2))
AZIMUTH_SIGN: float = 1.0
"""+1: azimuth 90° looks at the object's right side (+X). Flip here if Zero123++ turns the other way."""

NEAR: float = 0.1
FAR: float = 10.0


@dataclass(frozen=True)
class Cameras:
    """A batch of pinhole cameras; `view` maps object to camera space, `proj` camera to clip."""

    view: torch.Tensor
    proj: torch.Tensor
    positions: torch.Tensor

    def __len__(self) -> int:
        return self.view.shape[0]

    @property
    def mvp(self) -> torch.Tensor:
        return self.proj @ self.view

    def to(self, device: torch.device | str) -> Cameras:
        return Cameras(self.view.to(device), self.proj.to(device), self.positions.to(device))

    def __getitem__(self, idx: int | slice | torch.Tensor) -> Cameras:
        if isinstance(idx, int):
            idx = slice(idx, idx + 1)
        return Cameras(self.view[idx], self.proj[idx], self.positions[idx])


def camera_position(azimuth_deg: float, elevation_deg: float, distance: float) -> tuple[float, float, float]:
    """Azimuth 0 is the input view (camera on -Y looking along +Y), elevation up towards +Z."""
    a = math.radians(azimuth_deg) * AZIMUTH_SIGN
    e = math.radians(elevation_deg)
    return (distance * math.cos(e) * math.sin(a), -distance * math.cos(e) * math.cos(a), distance * math.sin(e))


def look_at(eye: torch.Tensor, target: torch.Tensor | None = None, up: torch.Tensor | None = None) -> torch.Tensor:
    """World-to-camera matrices (B, 4, 4) for eyes (B, 3); falls back to +Y up when looking along Z."""
    eye = eye.to(torch.float32)
    target = torch.zeros_like(eye) if target is None else target.to(eye).expand_as(eye)
    up = eye.new_tensor([0.0, 0.0, 1.0]).expand_as(eye) if up is None else up.to(eye).expand_as(eye)
    forward = torch.nn.functional.normalize(target - eye, dim=-1)
    right = torch.linalg.cross(forward, up, dim=-1)
    degenerate = right.norm(dim=-1, keepdim=True) < 1e-6
    alt = torch.linalg.cross(forward, eye.new_tensor([0.0, 1.0, 0.0]).expand_as(eye), dim=-1)
    right = torch.nn.functional.normalize(torch.where(degenerate, alt, right), dim=-1)
    cam_up = torch.linalg.cross(right, forward, dim=-1)
    rot = torch.stack([right, cam_up, -forward], dim=-2)
    view = torch.eye(4, dtype=eye.dtype, device=eye.device).repeat(eye.shape[0], 1, 1)
    view[:, :3, :3] = rot
    view[:, :3, 3] = -(rot @ eye.unsqueeze(-1)).squeeze(-1)
    return view


def perspective(fov_deg: float, aspect: float = 1.0, near: float = NEAR, far: float = FAR) -> torch.Tensor:
    """OpenGL projection matrix (4, 4) with a vertical field of view."""
    f = 1.0 / math.tan(math.radians(fov_deg) / 2)
    return torch.tensor(
        [
            [f / aspect, 0.0, 0.0, 0.0],
            [0.0, f, 0.0, 0.0],
            [0.0, 0.0, (far + near) / (near - far), 2 * far * near / (near - far)],
            [0.0, 0.0, -1.0, 0.0],
        ],
        dtype=torch.float32,
    )


def orbit_cameras(
    azimuths_deg: list[float] | tuple[float, ...],
    elevations_deg: list[float] | tuple[float, ...],
    distance: float = PRIOR_DISTANCE,
    fov_deg: float = PRIOR_FOV_DEG,
) -> Cameras:
    """Cameras on a sphere around the origin looking at it, up = +Z."""
    if len(azimuths_deg) != len(elevations_deg):
        raise ValueError("azimuths and elevations must have the same length")
    eyes = torch.tensor(
        [camera_position(a, e, distance) for a, e in zip(azimuths_deg, elevations_deg, strict=True)], dtype=torch.float32
    )
    view = look_at(eyes)
    proj = perspective(fov_deg).expand(len(eyes), 4, 4).clone()
    return Cameras(view=view, proj=proj, positions=eyes)


def prior_cameras() -> Cameras:
    """The six Zero123++ v1.2 views, in grid order (view k at row k // 2, column k % 2)."""
    return orbit_cameras(PRIOR_AZIMUTHS_DEG, PRIOR_ELEVATIONS_DEG)


def input_camera() -> Cameras:
    """The camera of the user's input image (Blender's Front view of the object)."""
    return orbit_cameras([0.0], [0.0])


def to_clip(vertices: torch.Tensor, cameras: Cameras) -> torch.Tensor:
    """Object-frame vertices (V, 3) to clip-space positions (B, V, 4) for the rasteriser."""
    homo = torch.cat([vertices, torch.ones_like(vertices[:, :1])], dim=-1)
    return torch.einsum("bij,vj->bvi", cameras.mvp.to(vertices), homo)


def _about_axis(axes: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) rotations by `angle` (radians, differentiable) about unit axes (B, 3)."""
    x, y, z = axes.unbind(-1)
    zero = torch.zeros_like(x)
    cross = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(-1, 3, 3)
    eye = torch.eye(3, dtype=axes.dtype, device=axes.device).expand_as(cross)
    angle = angle[:, None, None]
    return eye + torch.sin(angle) * cross + (1 - torch.cos(angle)) * (cross @ cross)


def adjusted(
    cameras: Cameras,
    shift: torch.Tensor,
    rotation: torch.Tensor,
    log_scale: torch.Tensor,
    elevation: torch.Tensor,
) -> Cameras:
    """The cameras as a set of views that are a little off shows them, differentiable in every
    correction: per camera an image-plane `shift` (B, 2) in NDC units (2 = the image side),
    a turn about its own axis `rotation` (B,) in radians (the camera-space normals turn with
    it, as in a view that was turned), a zoom exp(`log_scale`) (B,), and for all of them one
    `elevation` offset (radians, positive raises every camera along its meridian, still
    looking at the origin). All zero gives the cameras back."""
    view, proj = cameras.view, cameras.proj
    dtype = view.dtype
    right = view[:, 0, :3]
    world = _about_axis(right, -elevation.to(dtype).expand(len(view)))  # the eye moves up
    cos, sin = torch.cos(rotation.to(dtype)), torch.sin(rotation.to(dtype))
    zero, one = torch.zeros_like(cos), torch.ones_like(cos)
    roll = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], dim=-1).reshape(-1, 3, 3)
    rot = roll @ view[:, :3, :3] @ world.transpose(1, 2)
    trans = (roll @ view[:, :3, 3:])[..., 0]  # the eye's distance is kept; only its direction moves
    new_view = torch.cat([torch.cat([rot, trans[..., None]], dim=2), view[:, 3:]], dim=1)
    scale = torch.exp(log_scale.to(dtype))
    image = torch.zeros_like(proj)
    image[:, 0, 0] = image[:, 1, 1] = 1.0
    image[:, 2, 2] = image[:, 3, 3] = 1.0
    image = image + torch.stack(
        [
            torch.stack([scale - 1, zero, zero, shift[:, 0].to(dtype)], -1),
            torch.stack([zero, scale - 1, zero, shift[:, 1].to(dtype)], -1),
            torch.zeros(len(view), 4, dtype=dtype, device=view.device),
            torch.zeros(len(view), 4, dtype=dtype, device=view.device),
        ],
        dim=1,
    )
    # NDC x' = s x + t: clip x' = s x_clip + t w_clip, with w_clip in the projection's last row.
    new_proj = image @ proj
    positions = -(rot.transpose(1, 2) @ trans[..., None])[..., 0]
    return Cameras(view=new_view, proj=new_proj, positions=positions)
