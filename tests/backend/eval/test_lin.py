import json
from pathlib import Path

import pytest
import torch
import trimesh

from latentdreamer.eval.lin import evaluate
from latentdreamer.geometry.grid import grid_points_tensor
from latentdreamer.models.lin import LIN
from latentdreamer.models.sae import SAE
from latentdreamer.train.lin import load_config as lin_config
from latentdreamer.train.sae import load_config as sae_config

ROOT = Path(__file__).resolve().parents[3]
TINY_SAE = sae_config(ROOT / "configs" / "sae" / "tiny.json")[0]
TINY_LIN = lin_config(ROOT / "configs" / "lin" / "tiny.json")[0]

pytestmark = pytest.mark.usefixtures("one_thread")


class BallSAE(SAE):
    """Decodes every latent to the radius-0.5 ball: each IoU against a ball is then ~1."""

    def decode_grid(self, z, n=None, chunk=0, **_):
        n = n or self.config.resolution
        return (grid_points_tensor(n).norm(dim=1) - 0.5).reshape(1, n, n, n).expand(z.shape[0], -1, -1, -1)


class ZeroLIN(LIN):
    """Predicts the zero latent whatever it sees: its L2 must equal the zero baseline's."""

    def forward(self, views, base=None):
        return torch.zeros(views.shape[0], *self.config.latent_shape)


def test_scores_baselines_and_files(tmp_path: Path):
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    trimesh.creation.icosphere(subdivisions=3, radius=2.0).export(meshes / "ball.obj")
    torch.manual_seed(0)
    sae = BallSAE(TINY_SAE).eval()
    report = evaluate(
        ZeroLIN(TINY_LIN),
        sae,
        "lin",
        "1" * 64,
        "2" * 64,
        tmp_path / "out",
        shapes=2,
        meshes=meshes,
        use_meshes=True,
        progress=False,
    )
    ball = report["meshes"]["objects"][0]
    assert ball["name"] == "ball"
    for k in ("iou", "iou_masks_only", "iou_zero", "iou_hull", "iou_sae_bound"):
        assert ball[k] > 0.9, (k, ball[k])
    for part in ("random", "meshes"):
        for o in report[part]["objects"]:
            assert (
                o["mse"] == pytest.approx(o["mse_zero"]) and o["mse_masks_only"] == pytest.approx(o["mse_zero"]) and o["mse"] > 0
            )
    assert report["random"]["count"] == 2 and report["random"]["mean"]["iou"] < 0.9  # random shapes are not balls
    saved = json.loads((tmp_path / "out" / "lin_eval.json").read_text())
    assert saved["meshes"]["count"] == 1 and saved["sae_sha256"] == "2" * 64
    for name in ("lin_random.png", "lin_meshes.png"):
        assert (tmp_path / "out" / name).is_file(), name
    md = (tmp_path / "out" / "lin_eval.md").read_text()
    assert "| ball |" in md and "masks only" in md


def test_an_untrained_residual_lin_scores_as_the_hull(tmp_path: Path):
    torch.manual_seed(0)
    assert TINY_LIN.residual == "hull"
    report = evaluate(
        LIN(TINY_LIN), SAE(TINY_SAE), "lin", "1" * 64, "2" * 64, tmp_path, shapes=1, meshes=None, use_meshes=False, progress=False
    )
    o = report["random"]["objects"][0]
    assert "meshes" not in report and 0 <= o["iou"] <= 1 and 0 <= o["iou_sae_bound"] <= 1 and o["mse"] > 0
    assert o["mse"] == o["mse_masks_only"] == o["mse_hull"] and o["iou"] == o["iou_hull"]
