"""What the pipeline does with the SAE: load it, encode SDFs and meshes, decode latents, sample.

The shipped weights live inside the package (`latentdreamer/weights/sae.safetensors` and its
model card `sae.json`), so an installed wheel or the Blender extension's bundled backend
finds them without a download.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from latentdreamer.geometry.mesh import Mesh
from latentdreamer.models.sae import SAE, SAEConfig
from latentdreamer.models.weights_file import load_weights, save_weights

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_SAE_WEIGHTS = WEIGHTS_DIR / "sae.safetensors"


def load_sae(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> SAE:
    """The SAE described by a weights file's model card, in eval mode, checksum verified."""
    tensors, card = load_weights(path or DEFAULT_SAE_WEIGHTS, device)
    model = SAE(SAEConfig.from_dict(card["config"]))
    model.load_state_dict(tensors, strict=True)
    return model.to(device).eval()


def load_sae_checkpoint(run_dir: str | os.PathLike, device: str | torch.device = "cpu") -> SAE:
    """The model of a training run's latest checkpoint (models/checkpoint.py), in eval mode."""
    import json

    from latentdreamer.models.checkpoint import META, load_checkpoint

    meta = json.loads((Path(run_dir) / META).read_text())
    model = SAE(SAEConfig.from_dict(meta["model"]))
    rng = torch.get_rng_state()
    load_checkpoint(run_dir, model)
    torch.set_rng_state(rng)  # loading restores the trainer's RNG; a reader should not inherit it
    return model.to(device).eval()


def export_sae(model: SAE, path: str | os.PathLike, card: dict) -> Path:
    """Write a model's weights and card (the card's config is taken from the model)."""
    return save_weights(path, model.state_dict(), {**card, "config": model.config.to_dict(), "model": "sae"})


def _as_batch(sdf: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(sdf, dtype=np.float32) if not isinstance(sdf, torch.Tensor) else sdf)
    return (t if t.dim() == 4 else t.unsqueeze(0)).to(device=device, dtype=torch.float32)


def encode_sdf(model: SAE, sdf: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(R,R,R) or (B,R,R,R) SDF grid (metres, grid.py layout) -> posterior mean (B,8,8,8,8)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        mean, _ = model.encode(_as_batch(sdf, device))
    return mean


def mesh_sdf(mesh: Mesh, resolution: int) -> np.ndarray:
    """A mesh fitted into the radius-0.5 sphere, as the SDF grid the encoder reads."""
    from latentdreamer.geometry.mesh_to_sdf import mesh_to_sdf
    from latentdreamer.geometry.normalise import fit_in_sphere

    fitted = fit_in_sphere(mesh)
    return mesh_to_sdf(fitted.vertices, fitted.faces, resolution)


def encode_mesh(model: SAE, mesh: Mesh) -> torch.Tensor:
    """Any closed-ish mesh (object frame) -> latent (1,8,8,8,8); the mesh is normalised first."""
    return encode_sdf(model, mesh_sdf(mesh, model.config.resolution))


def decode_sdf(model: SAE, z: torch.Tensor, resolution: int | None = None) -> torch.Tensor:
    """Latent (B,8,8,8,8) -> SDF grid (B,n,n,n); differentiable in z (no no_grad here)."""
    return model.decode_grid(z, resolution)


def sdf_to_mesh(sdf: torch.Tensor) -> Mesh:
    """Extract the zero level set of one (n,n,n) grid with FlexiCubes' default weights."""
    from latentdreamer.geometry.flexicubes import flexicubes

    return flexicubes(sdf.detach()).to_mesh()


def mesh_resolution(model: SAE) -> int:
    """Grid side for extracting meshes: twice the encoder's. The point decoder is continuous,
    and coarse-to-fine decoding makes 128^3 cost ~2x a dense 64^3 evaluation; thin parts that
    fall between 64^3 samples survive (measured: eval-mesh IoU +0.08 on three meshes)."""
    return 2 * model.config.resolution


def decode_mesh(model: SAE, z: torch.Tensor, resolution: int | None = None) -> Mesh:
    """One latent (1,8,8,8,8) -> mesh in the object frame (default grid: mesh_resolution)."""
    with torch.no_grad():
        return sdf_to_mesh(model.decode_grid(z, resolution or mesh_resolution(model))[0])


def sample_prior(model: SAE, count: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """Latents from the VAE prior N(0, I); decoded they are plausible random-geometry objects."""
    device = next(model.parameters()).device
    return torch.randn((count, *model.config.latent_shape), generator=generator).to(device)
