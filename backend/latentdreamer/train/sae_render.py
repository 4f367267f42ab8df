"""The SAE's image-space losses (paper Eq. 6-7): decoded SDF -> FlexiCubes -> rasterised
masks and normals, compared with the true shape's from random cameras, plus FlexiCubes' own
regularisers on the decoded grid.

They train what the pipeline later uses: the latent is optimised through exactly this chain
(decode, extract, rasterise), so a decoder whose mesh renders right matters more than one
whose SDF values are right far from the surface. Their price on a CPU is measured by
`benchmarks/ablate_sae_losses.py`; the trainer skips them when their weights are zero.
"""

from __future__ import annotations

import torch

from latentdreamer.geometry.flexicubes import deviation_loss, flexicubes, sdf_sign_loss
from latentdreamer.geometry.grid import grid_points_tensor, sample_grid
from latentdreamer.models.sae import SAE
from latentdreamer.render.cameras import orbit_cameras
from latentdreamer.render.views import render_views


def random_cameras(count: int, gen: torch.Generator):
    """Cameras all around the object (elevations -30..60 degrees), at the prior's distance."""
    az = (torch.rand(count, generator=gen) * 360.0).tolist()
    el = (torch.rand(count, generator=gen) * 90.0 - 30.0).tolist()
    return orbit_cameras(az, el)


def render_losses(
    model: SAE,
    z: torch.Tensor,
    features: torch.Tensor,
    sdf: torch.Tensor,
    gen: torch.Generator,
    resolution: int,
    views: int,
    image_size: int,
) -> dict[str, torch.Tensor]:
    """Mean over the batch of mask L1, normal L1 and the FlexiCubes regulariser.

    The decoded grid is evaluated at `resolution`^3 (coarser than the training grids keeps
    this affordable); the truth is the training grid resampled to the same lattice, so the
    two meshes differ by what the network got wrong, not by resolution.
    """
    pred_grids = model.decode_grid(z, resolution, features=features)
    pts = grid_points_tensor(resolution).expand(sdf.shape[0], -1, -1)
    with torch.no_grad():
        true_grids = sample_grid(sdf.unsqueeze(1), pts).reshape(-1, resolution, resolution, resolution)
    totals = {"mask": z.new_zeros(()), "normal": z.new_zeros(()), "flexi_reg": z.new_zeros(())}
    for pred, true in zip(pred_grids, true_grids, strict=True):
        cams = random_cameras(views, gen)
        with torch.no_grad():
            t_mesh = flexicubes(true)
            t_img = render_views(t_mesh.vertices, t_mesh.faces, cams, image_size)
        p_mesh = flexicubes(pred)
        totals["flexi_reg"] = totals["flexi_reg"] + sdf_sign_loss(p_mesh) + deviation_loss(p_mesh)
        if len(p_mesh.faces) == 0:
            # Nothing to render: the mask loss is the true coverage, with no gradient path;
            # the reconstruction loss has to bring a surface back first.
            totals["mask"] = totals["mask"] + t_img.mask.mean()
            continue
        p_img = render_views(p_mesh.vertices, p_mesh.faces, cams, image_size)
        totals["mask"] = totals["mask"] + (p_img.mask - t_img.mask).abs().mean()
        totals["normal"] = totals["normal"] + (p_img.normals - t_img.normals).abs().mean()
    return {k: v / len(pred_grids) for k, v in totals.items()}
