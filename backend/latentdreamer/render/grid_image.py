"""The Zero123++ grid image: six views in 3 rows x 2 columns (docs/design.md §4).

View k sits at row k // 2, column k % 2, in the order of `cameras.prior_cameras()`.
Zero123++ makes 320-pixel tiles (a 640 x 960 image); any square tile size works here so
that previews and tests can use small grids.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GRID_ROWS = 3
GRID_COLS = 2
NUM_VIEWS = GRID_ROWS * GRID_COLS
TILE_SIZE = 320
"""Zero123++ v1.2's tile size: the grid image is 640 wide x 960 high."""


def split_grid(image: np.ndarray) -> list[np.ndarray]:
    """Six (S, S, ...) tiles of a (3S, 2S, ...) grid image, in camera order."""
    height, width = image.shape[:2]
    tile = width // GRID_COLS
    if image.ndim not in (2, 3) or tile == 0 or width != GRID_COLS * tile or height != GRID_ROWS * tile:
        hint = f"{GRID_COLS * tile}x{GRID_ROWS * tile}" if tile else f"{GRID_COLS * TILE_SIZE}x{GRID_ROWS * TILE_SIZE}"
        raise ValueError(
            f"a grid image is {GRID_COLS} x {GRID_ROWS} square tiles (width x height 2:3), "
            f"expected e.g. {hint}; got {width}x{height} with shape {image.shape}"
        )
    tiles = []
    for k in range(NUM_VIEWS):
        top, left = (k // GRID_COLS) * tile, (k % GRID_COLS) * tile
        tiles.append(image[top : top + tile, left : left + tile].copy())
    return tiles


def join_grid(views: Sequence[np.ndarray]) -> np.ndarray:
    """One grid image from six equally sized square views (same dtype and channels)."""
    if len(views) != NUM_VIEWS:
        raise ValueError(f"a grid image holds {NUM_VIEWS} views, got {len(views)}")
    first = np.asarray(views[0])
    tile = first.shape[0]
    if first.ndim not in (2, 3) or first.shape[1] != tile:
        raise ValueError(f"views must be square (S, S[, C]) arrays, got {first.shape}")
    for k, view in enumerate(views):
        if np.shape(view) != first.shape:
            raise ValueError(f"view {k} has shape {np.shape(view)}, expected {first.shape} like view 0")
    rows = [np.concatenate(views[r * GRID_COLS : (r + 1) * GRID_COLS], axis=1) for r in range(GRID_ROWS)]
    return np.concatenate(rows, axis=0)
