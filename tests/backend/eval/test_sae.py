import json
from pathlib import Path

import pytest
import torch
import trimesh

from latentdreamer.eval.sae import evaluate
from latentdreamer.models.sae import SAE, SAEConfig

TINY = dict(
    resolution=32,
    encoder_channels=(8, 16),
    decoder_channels=(16, 8, 8),
    feature_channels=8,
    point_hidden=16,
    fourier_bands=3,
    groups=4,
)


class SphereSAE(SAE):
    """A stand-in whose decoder ignores the latent and returns a sphere of radius 0.3, so the
    scores are known: IoU against a radius-0.3 sphere must be high, against others lower."""

    def decode_grid(self, z, n=None, chunk=0):
        from latentdreamer.geometry.grid import grid_points_tensor

        n = n or self.config.resolution
        return (grid_points_tensor(n).norm(dim=1) - 0.3).reshape(1, n, n, n).expand(z.shape[0], -1, -1, -1)


def test_round_trip_scores_files_and_mesh_set(tmp_path: Path):
    torch.set_num_threads(1)
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    trimesh.creation.icosphere(subdivisions=3, radius=1.0).export(meshes / "ball.obj")
    (meshes / "ball.json").write_text('{"kind": "solid"}')
    (meshes / "corrupt.ply").write_bytes(b"ply\nformat nonsense\n")
    model = SphereSAE(SAEConfig(**TINY)).eval()
    report = evaluate(
        model,
        "w",
        "0" * 64,
        tmp_path / "out",
        shapes=2,
        meshes=meshes,
        use_meshes=True,
        decode_resolution=32,
        points=2000,
        progress=False,
        gt_resolution=64,
    )
    ball = report["meshes"]["objects"][0]
    assert ball["name"] == "ball" and ball["volume_iou"] > 0.9 and ball["bound_volume_iou"] > 0.9
    assert [f["name"] for f in report["meshes"]["failed"]] == ["corrupt"]
    assert report["meshes"]["by_kind"]["solid"]["count"] == 1
    assert report["random"]["count"] == 2
    # Random shapes are not spheres, but the grid bound (input meshed directly) is close to the truth.
    assert report["random"]["mean"]["volume_iou"] < report["random"]["mean"]["bound_volume_iou"]
    assert report["random"]["mean"]["bound_volume_iou"] > 0.8
    for name in ("sae_eval.json", "sae_eval.md", "sae_random.png", "sae_meshes.png"):
        assert (tmp_path / "out" / name).is_file(), name
    assert json.loads((tmp_path / "out" / "sae_eval.json").read_text())["meshes"]["count"] == 1


def test_missing_mesh_folder_is_skipped_with_a_message(tmp_path: Path, capsys):
    model = SphereSAE(SAEConfig(**TINY)).eval()
    report = evaluate(
        model,
        "w",
        "0" * 64,
        tmp_path,
        shapes=1,
        meshes=tmp_path / "absent",
        use_meshes=True,
        points=500,
        progress=False,
        gt_resolution=32,
    )
    assert "meshes" not in report and "not found" in report["meshes_skipped"]
    assert "skipped" in capsys.readouterr().out


def test_merge_reports_concatenates_parts_and_recomputes_means():
    from latentdreamer.eval.sae import merge_reports

    def part(ious, seeds):
        objects = [{"name": f"o{i}", "volume_iou": v, "chamfer": 0.01} for i, v in enumerate(ious)]
        return {
            "weights": "w",
            "random_seeds": seeds,
            "seconds": 1.0,
            "random": {"count": len(ious), "mean": {}, "objects": objects},
        }

    merged = merge_reports(
        [
            part([0.9, 0.8], [0, 2]),
            part([0.4], [2, 3]),
            {
                "weights": "w",
                "meshes": {"count": 1, "mean": {}, "objects": [{"name": "cup", "volume_iou": 0.5, "chamfer": 0.02}]},
            },
        ]
    )
    assert merged["random"]["count"] == 3
    assert merged["random"]["mean"]["volume_iou"] == pytest.approx(0.7)
    assert merged["meshes"]["mean"]["chamfer"] == pytest.approx(0.02)
    assert [p["random_seeds"] for p in merged["parts"]] == [[0, 2], [2, 3], None]


def test_thin_set_is_its_own_row(tmp_path: Path):
    torch.set_num_threads(1)
    model = SphereSAE(SAEConfig(**TINY)).eval()
    report = evaluate(
        model,
        "w",
        "0" * 64,
        tmp_path,
        shapes=2,
        meshes=None,
        use_meshes=False,
        decode_resolution=32,
        points=500,
        progress=False,
        gt_resolution=64,
        shape_set="thin",
    )
    assert "random" not in report and report["random_thin"]["count"] == 2
    assert report["random_set"] == "thin" and report["random_truth_resolution"] == 64
    # The thin objects are not spheres, and a 32^3 grid of them is far from their truth.
    assert report["random_thin"]["mean"]["volume_iou"] < 0.7
    assert report["random_thin"]["mean"]["bound_volume_iou"] < 0.95
    assert "Random thin-part shapes" in (tmp_path / "sae_eval.md").read_text()
    assert (tmp_path / "sae_random_thin.png").is_file()
    with pytest.raises(ValueError, match="shape_set"):
        evaluate(model, "w", "0" * 64, tmp_path, 1, None, False, shape_set="teapots")


def test_the_thin_truth_grid_holds_every_part():
    # A slab at least a voxel thick and a tube of radius above half a voxel's face diagonal
    # always hold a sample of the truth grid, so no part of a thin object drops out of it.
    from latentdreamer.eval.sae import THIN_GT_RESOLUTION
    from latentdreamer.geometry.grid import voxel_size
    from latentdreamer.geometry.thin_shapes import ThinShapeConfig

    h = voxel_size(THIN_GT_RESOLUTION)
    config = ThinShapeConfig()
    assert config.wall[0] >= h
    assert 0.5 * config.rod_diameter[0] > h / 2**0.5
