"""The latent field's band decode must give the full decode's mesh and gradient."""

from __future__ import annotations

import pytest
import torch

from latentdreamer.geometry.flexicubes import flexicubes
from latentdreamer.geometry.grid import voxel_size
from latentdreamer.models.sae import SAE, PointDecoder, SAEConfig
from latentdreamer.optimise.shape_field import GridField, LatentField, dilate, seal_boundary, surface_corners

TINY = dict(
    resolution=32,
    encoder_channels=(8, 16),
    decoder_channels=(16, 8, 8),
    feature_channels=8,
    point_hidden=16,
    fourier_bands=3,
    groups=4,
)
N = 24


class BlobHead(PointDecoder):
    """A ball of radius 0.25 grown locally by the latent (read as an 8^3 feature grid): a
    known surface that an optimiser can move by several cells."""

    def forward(self, features: torch.Tensor, points: torch.Tensor, fixed=None) -> torch.Tensor:
        return points.norm(dim=-1) - 0.25 - 0.05 * self.features_at(features, points, fixed).mean(-1)


@pytest.fixture
def sae() -> SAE:
    model = SAE(SAEConfig(**TINY)).eval()
    model.trunk = torch.nn.Identity()
    model.head = BlobHead(model.config)
    return model


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def surface_loss(sdf: torch.Tensor) -> torch.Tensor:
    """A loss of the mesh alone (as the coarse stage's is): it pushes the surface outward."""
    return -flexicubes(sdf, training=True).vertices.norm(dim=1).mean()


def test_surface_corners_are_the_corners_of_mixed_cubes():
    sdf = torch.ones(6, 6, 6)
    sdf[2, 3, 3] = -1.0
    corners = surface_corners(sdf)
    assert corners[1:4, 2:5, 2:5].all() and corners.sum() == 27  # the 8 cubes around one inside sample
    assert dilate(corners, 1).sum() == 125 and torch.equal(dilate(corners, 0), corners)


def test_band_decode_equals_the_full_decode_in_values_mesh_and_gradient(sae):
    z0 = 0.3 * torch.randn(1, 8, 8, 8, 8)
    band_field = LatentField(sae, z0, N, refresh_steps=100)
    full_field = LatentField(sae, z0, N, refresh_steps=0)
    with torch.no_grad():
        band_field.sdf()  # the first call decodes everything and finds the band
    for field in (band_field, full_field):
        field.z.data += 0.05 * torch.randn_like(field.z, generator=torch.Generator().manual_seed(1))
    band_sdf, full_sdf = band_field.sdf(), full_field.sdf()
    assert band_field.steps_since_refresh == 1, "this call used the band"
    inside = band_field.band.reshape(N, N, N)
    assert 0.1 < inside.float().mean() < 0.9
    torch.testing.assert_close(band_sdf[inside], full_sdf[inside], atol=1e-6, rtol=0)
    assert torch.equal(band_sdf < 0, full_sdf < 0)
    a, b = flexicubes(band_sdf.detach()), flexicubes(full_sdf.detach())
    assert torch.equal(a.faces, b.faces)
    torch.testing.assert_close(a.vertices, b.vertices, atol=1e-6, rtol=0)
    surface_loss(band_sdf).backward()
    surface_loss(full_sdf).backward()
    assert band_field.z.grad.abs().sum() > 0
    torch.testing.assert_close(band_field.z.grad, full_field.z.grad, atol=1e-7, rtol=1e-4)


def test_the_surface_never_leaves_the_band_while_it_grows(sae):
    field = LatentField(sae, torch.zeros(1, 8, 8, 8, 8), N, refresh_steps=8)
    optimiser = torch.optim.Adam([field.z], lr=0.05)
    start = float((field.sdf(exact=True) < 0).sum())
    for _ in range(40):
        optimiser.zero_grad()
        sdf = field.sdf()
        with torch.no_grad():
            exact = seal_boundary(sae.decode_grid(field.z, N)[0])
        assert torch.equal(sdf.detach() < 0, exact < 0)
        surface_loss(sdf).backward()
        optimiser.step()
    grown = float((field.sdf(exact=True) < 0).sum())
    assert grown > 1.5 * start, "the surface moved by several cells"
    assert field.full_decodes <= 1 + 40 // 8 + 2, "most steps decoded the band only"
    assert field.band_escapes == 0


def test_a_new_piece_away_from_the_surface_is_decoded_from_its_first_step(sae):
    """A blob rising from nothing far from the ball, as a chair's leg appears: its first
    negative sample is not near the surface, so only the band's near-zero samples catch it."""
    field = LatentField(sae, torch.zeros(1, 8, 8, 8, 8), N, refresh_steps=8)
    corner = (0, slice(None), slice(6, None), slice(6, None), slice(6, None))
    appeared = False
    with torch.no_grad():
        for _ in range(60):
            field.z[corner] += 0.2  # the blob's samples fall by 0.01 m (0.2 cells) per step
            sdf = field.sdf()
            exact = seal_boundary(sae.decode_grid(field.z, N)[0])
            assert torch.equal(sdf < 0, exact < 0)
            appeared |= bool((exact[N // 2 + 3 :, N // 2 + 3 :, N // 2 + 3 :] < 0).any())
    assert appeared, "the blob appeared (a second piece)"
    assert field.band_escapes == 0


def test_a_jump_past_the_band_is_caught_and_widens_it(sae):
    field = LatentField(sae, torch.zeros(1, 8, 8, 8, 8), N, refresh_steps=100)
    with torch.no_grad():
        field.sdf()
        before = (field.known < 0).sum()
        field.z += 5.0  # the ball grows by five cells in one step
        sdf = field.sdf()
    assert field.steps_since_refresh == 0, "the surface left the band, so this call decoded everything too"
    assert (sdf < 0).sum() > before
    assert field.band_escapes > 0 and field.band_cells == 3


def test_the_band_is_a_few_cells_wide(sae):
    field = LatentField(sae, torch.zeros(1, 8, 8, 8, 8), N)
    with torch.no_grad():
        sdf = field.sdf()
    near = sdf.abs() < voxel_size(N)
    assert field.band.reshape(N, N, N)[near].all()
    assert field.band.float().mean() < 0.7


def test_a_grid_field_is_its_values_sealed():
    values = torch.full((6, 6, 6), -1.0)
    sdf = GridField(values).sdf(exact=True)
    assert (sdf[0] > 0).all() and (sdf[1:-1, 1:-1, 1:-1] < 0).all()


def test_cube_corners_are_each_cubes_eight_samples():
    from latentdreamer.optimise.shape_field import cube_corners

    n = 4
    corners = cube_corners(n)
    assert corners.shape == ((n - 1) ** 3, 8)
    i, j, k = 1, 2, 0
    cube = corners[(i * (n - 1) + j) * (n - 1) + k]
    expected = sorted(((i + a) * n + j + b) * n + k + c for a in (0, 1) for b in (0, 1) for c in (0, 1))
    assert sorted(cube.tolist()) == expected
