import numpy as np
import pytest

from latentdreamer.render.grid_image import join_grid, split_grid


def numbered_views(tile: int, channels: int | None, dtype) -> list[np.ndarray]:
    shape = (tile, tile) if channels is None else (tile, tile, channels)
    rng = np.random.default_rng(tile)
    views = []
    for k in range(6):
        v = rng.random(shape)
        v[0, 0] = k / 10  # marks the tile's top-left pixel with its view number
        views.append((v * 255).astype(np.uint8) if dtype == np.uint8 else v.astype(dtype))
    return views


@pytest.mark.parametrize(
    "tile,channels,dtype", [(320, 3, np.uint8), (320, 4, np.float32), (8, None, np.float64), (5, 4, np.uint8)]
)
def test_round_trip(tile, channels, dtype):
    views = numbered_views(tile, channels, dtype)
    grid = join_grid(views)
    assert grid.shape[:2] == (3 * tile, 2 * tile) and grid.dtype == dtype
    back = split_grid(grid)
    assert len(back) == 6
    for a, b in zip(views, back, strict=True):
        np.testing.assert_array_equal(a, b)


def test_tile_placement_matches_zero123pp_layout():
    grid = np.zeros((960, 640, 3), np.uint8)
    for k in range(6):
        r, c = k // 2, k % 2
        grid[r * 320 : (r + 1) * 320, c * 320 : (c + 1) * 320] = 10 * (k + 1)
    views = split_grid(grid)
    assert [int(v[160, 160, 0]) for v in views] == [10, 20, 30, 40, 50, 60]
    assert all(v.shape == (320, 320, 3) for v in views)
    joined = join_grid([np.full((320, 320, 3), k, np.uint8) for k in range(6)])
    assert joined[0, 639, 0] == 1 and joined[320, 0, 0] == 2 and joined[959, 639, 0] == 5


def test_split_returns_copies():
    grid = np.zeros((96, 64), np.float32)
    split_grid(grid)[0][:] = 1
    assert grid.max() == 0


@pytest.mark.parametrize("shape", [(960, 641, 3), (961, 640, 3), (640, 960, 3), (1, 1), (960, 640, 3, 1)])
def test_wrong_sizes_name_the_expected_size(shape):
    with pytest.raises(ValueError, match=r"expected e\.g\. \d+x\d+"):
        split_grid(np.zeros(shape, np.uint8))


def test_join_rejects_wrong_views():
    views = [np.zeros((4, 4, 3))] * 6
    with pytest.raises(ValueError, match="6 views"):
        join_grid(views[:5])
    with pytest.raises(ValueError, match="view 3"):
        join_grid(views[:3] + [np.zeros((4, 4, 4))] + views[4:])
    with pytest.raises(ValueError, match="square"):
        join_grid([np.zeros((4, 5, 3))] * 6)
