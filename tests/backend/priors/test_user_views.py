from pathlib import Path

import numpy as np
import pytest

from latentdreamer.io.images import write_png
from latentdreamer.priors.user_views import InputError, load_views
from latentdreamer.render.grid_image import join_grid

S = 64


def disk_view(radius: float = 0.3, alpha: bool = False) -> np.ndarray:
    yy, xx = np.mgrid[0:S, 0:S] / (S - 1) - 0.5
    inside = (xx**2 + yy**2) < radius**2
    rgb = np.full((S, S, 3), 0.5, np.float32)
    rgb[inside] = (0.9, 0.2, 0.1)
    if alpha:
        return np.concatenate([rgb, inside[..., None].astype(np.float32)], axis=-1)
    return rgb


def normal_view() -> np.ndarray:
    yy, xx = np.mgrid[0:S, 0:S] / (S - 1) - 0.5
    r2 = (xx**2 + yy**2) / 0.3**2
    inside = r2 < 1
    n = np.zeros((S, S, 3), np.float32)
    n[..., 0], n[..., 1] = xx / 0.3, -yy / 0.3
    n[..., 2] = np.sqrt(np.clip(1 - r2, 0, 1))
    n[~inside] = 0
    return (n + 1) / 2


def test_grid_with_alpha_uses_alpha(tmp_path: Path) -> None:
    path = write_png(tmp_path / "grid.png", join_grid([disk_view(alpha=True)] * 6))
    views = load_views(grid=path)
    assert views.rgb.shape == (6, S, S, 3) and views.alpha.shape == (6, S, S)
    assert set(np.unique(views.alpha)) <= {0.0, 1.0}
    assert views.normals is None


def test_six_files_and_normals_give_normal_masks(tmp_path: Path) -> None:
    files = [write_png(tmp_path / f"v{k}.png", disk_view()) for k in range(6)]
    normals = write_png(tmp_path / "n.png", join_grid([normal_view()] * 6))
    views = load_views(files=files, normals_grid=normals)
    assert views.normals.shape == (6, S, S, 3)
    centre, corner = views.alpha[0, S // 2, S // 2], views.alpha[0, 0, 0]
    assert centre == pytest.approx(1.0) and corner == pytest.approx(0.0)


def test_plain_background_segmentation_without_alpha_or_normals(tmp_path: Path) -> None:
    path = write_png(tmp_path / "grid.png", join_grid([disk_view()] * 6))
    views = load_views(grid=path)
    expected = np.pi * (0.3 * (S - 1)) ** 2 / S**2
    assert abs(float(views.alpha[0].mean()) - expected) < 0.02


def test_wrong_grid_size_names_the_expected_layout(tmp_path: Path) -> None:
    path = write_png(tmp_path / "grid.png", np.zeros((100, 100, 3), np.float32))
    with pytest.raises(InputError, match="wrong size") as info:
        load_views(grid=path)
    assert "640x960" in info.value.hint


def test_wrong_file_count(tmp_path: Path) -> None:
    files = [write_png(tmp_path / f"v{k}.png", disk_view()) for k in range(5)]
    with pytest.raises(InputError, match="exactly 6"):
        load_views(files=files)


def test_mismatched_file_sizes_name_the_file(tmp_path: Path) -> None:
    files = [write_png(tmp_path / f"v{k}.png", disk_view()) for k in range(5)]
    files.append(write_png(tmp_path / "big.png", np.zeros((S * 2, S * 2, 3), np.float32)))
    with pytest.raises(InputError, match="big.png"):
        load_views(files=files)


def test_empty_mask_names_the_view(tmp_path: Path) -> None:
    views = [disk_view(alpha=True) for _ in range(6)]
    views[3][..., 3] = 0.0
    views[3][0, 0, 3] = 1.0  # keep the alpha "useful" so alpha is the source
    path = write_png(tmp_path / "grid.png", join_grid(views))
    with pytest.raises(InputError, match=r"empty in .*view 3"):
        load_views(grid=path)


def test_mask_touching_border_everywhere(tmp_path: Path) -> None:
    views = [disk_view(alpha=True) for _ in range(6)]
    views[1][..., 3] = 1.0
    views[1][S // 2, S // 2, 3] = 0.0
    path = write_png(tmp_path / "grid.png", join_grid(views))
    with pytest.raises(InputError, match=r"border .*view 1"):
        load_views(grid=path)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_views(grid=tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError, match="not a readable image"):
        load_views(grid=bad)


def test_normals_must_match_views(tmp_path: Path) -> None:
    path = write_png(tmp_path / "grid.png", join_grid([disk_view(alpha=True)] * 6))
    small = write_png(tmp_path / "n.png", np.full((3 * 32, 2 * 32, 3), 0.5, np.float32))
    with pytest.raises(InputError, match="pixel for pixel"):
        load_views(grid=path, normals_grid=small)


def test_grid_and_files_together_rejected(tmp_path: Path) -> None:
    path = write_png(tmp_path / "grid.png", join_grid([disk_view()] * 6))
    with pytest.raises(InputError, match="not both"):
        load_views(grid=path, files=[path] * 6)
