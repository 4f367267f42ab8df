"""Turning the views a user brings into a validated `ViewSet`: the other source of six views
beside the multi-view prior.

Masks come from the best source available, in this order: the images' alpha, the normal
maps (|n| thresholds, docs/design.md §4), then plain-background segmentation. Every check
names the file and view so that a user can fix the input without reading code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from latentdreamer.api import ViewSet
from latentdreamer.errors import UserFacingError
from latentdreamer.io.images import read_image
from latentdreamer.priors.segmentation import alpha_is_useful, plain_background_mask
from latentdreamer.render.grid_image import NUM_VIEWS, TILE_SIZE, split_grid
from latentdreamer.render.normal_maps import mask_from_normal_map

MIN_TILE = 32
MIN_MASK_FRACTION = 0.002
"""A view whose object covers less than this is treated as empty."""
MAX_BORDER_FRACTION = 0.9
"""A mask covering more than this share of a view's border has not separated the background."""
MAX_MASK_FRACTION = 0.85
"""A mask covering more than this share of a view cannot be an object: the pipeline fits the
object inside a sphere that the prior cameras see as the view's inscribed circle, 79 % of
the view (pi / 4). More means the background was taken for the object."""


class InputError(UserFacingError):
    """A problem with the views the user brought."""


def _read(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{what} not found: {path}", "check the path; six views as one 640x960 grid PNG or six files")
    try:
        return read_image(path)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{what} {path} is not a readable image ({exc})", "save it as PNG or JPEG") from exc


def _tiles(grid: Path | None, files: Sequence[Path] | None, what: str) -> tuple[list[np.ndarray], list[str]]:
    """Six same-sized square tiles, and a name for each to put in error messages."""
    if (grid is None) == (files is None or len(files) == 0):
        raise InputError(f"give the {what} either as one grid image or as six files, not both or neither")
    if grid is not None:
        image = _read(Path(grid), f"{what} grid image")
        try:
            tiles = split_grid(image)
        except ValueError as exc:
            raise InputError(
                f"{what} grid image {grid} has the wrong size: {exc}",
                f"a grid is 2 columns x 3 rows of square views, e.g. {2 * TILE_SIZE}x{3 * TILE_SIZE} (Zero123++ layout)",
            ) from exc
        return tiles, [f"{grid} (view {k}, row {k // 2}, column {k % 2})" for k in range(NUM_VIEWS)]
    assert files is not None
    if len(files) != NUM_VIEWS:
        raise InputError(
            f"{len(files)} {what} files given; exactly {NUM_VIEWS} are needed",
            "one per camera, in the order azimuth 30, 90, 150, 210, 270, 330 degrees",
        )
    tiles = [_read(Path(f), f"{what} file") for f in files]
    first = tiles[0].shape[:2]
    for f, tile in zip(files, tiles, strict=True):
        if tile.shape[0] != tile.shape[1]:
            raise InputError(
                f"{what} file {f} is {tile.shape[1]}x{tile.shape[0]}; views must be square", "crop or pad it to a square"
            )
        if tile.shape[:2] != first:
            raise InputError(
                f"{what} file {f} is {tile.shape[1]}x{tile.shape[0]} but {files[0]} is {first[1]}x{first[0]}",
                "all six views must have the same size",
            )
    return tiles, [str(f) for f in files]


def _check_mask(mask: np.ndarray, name: str, source: str, opaque_alpha: bool = False) -> None:
    """Refuse a mask that is empty, covers (nearly) the whole view, or runs along its border.

    `opaque_alpha`: the view has an alpha channel that is opaque everywhere, so the mask
    came from the colours; an empty result then means the object filled the whole view.
    """
    covered = float((mask > 0.5).mean())
    if covered < MIN_MASK_FRACTION:
        if opaque_alpha:
            raise InputError(
                f"the alpha channel of {name} is opaque everywhere (its mask fills the whole view), and the "
                "object could not be told from a background in its colours either",
                "give views whose alpha is transparent around the object, or on a plain background",
            )
        raise InputError(
            f"the object's mask is empty in {name} (mask from {source})",
            "each view must show the object; check the background removal or pass RGBA views with alpha",
        )
    border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    if float((border > 0.5).mean()) > MAX_BORDER_FRACTION:
        raise InputError(
            f"the mask touches the image border almost everywhere in {name} (mask from {source}); "
            "the background was not separated from the object",
            "give views with transparency, or on a plain background, with the whole object inside the frame",
        )
    if covered > MAX_MASK_FRACTION:
        raise InputError(
            f"the object's mask covers {covered:.0%} of {name} (mask from {source}); an object fills at most "
            f"{MAX_MASK_FRACTION:.0%} of a view, so the background was taken for the object",
            "give views with transparency (alpha 0 around the object), or on a plain background, "
            "with the whole object inside the frame and space around it",
        )


def load_views(
    grid: Path | str | None = None,
    files: Sequence[Path | str] | None = None,
    normals_grid: Path | str | None = None,
    normal_files: Sequence[Path | str] | None = None,
) -> ViewSet:
    """Six RGB(A) views, optionally six normal maps, as a validated ViewSet with masks."""
    tiles, names = _tiles(Path(grid) if grid else None, [Path(f) for f in files] if files else None, "views")
    size = tiles[0].shape[0]
    if size < MIN_TILE:
        raise InputError(f"the views are only {size} pixels wide", f"use views of at least {MIN_TILE} pixels (320 is typical)")
    normals = None
    if normals_grid is not None or normal_files:
        ntiles, nnames = _tiles(
            Path(normals_grid) if normals_grid else None, [Path(f) for f in normal_files] if normal_files else None, "normal-map"
        )
        if ntiles[0].shape[0] != size:
            raise InputError(
                f"normal maps are {ntiles[0].shape[0]} pixels per view but the views are {size}",
                "normal maps must match the views pixel for pixel",
            )
        normals = np.stack([t[..., :3] for t in ntiles]).astype(np.float32)

    rgb = np.stack([t[..., :3] for t in tiles]).astype(np.float32)
    has_alpha = all(t.shape[-1] == 4 for t in tiles)
    if has_alpha and all(alpha_is_useful(t, True) for t in tiles):
        alpha, source = np.stack([t[..., 3] for t in tiles]).astype(np.float32), "alpha"
    elif normals is not None:
        alpha, source = mask_from_normal_map(normals)[..., 0].astype(np.float32), "normal maps"
    else:
        alpha, source = np.stack([plain_background_mask(v)[0] for v in rgb]).astype(np.float32), "plain-background segmentation"
    opaque = [t.shape[-1] == 4 and not alpha_is_useful(t, True) for t in tiles]
    for mask, name, opaque_alpha in zip(alpha, names, opaque, strict=True):
        _check_mask(mask, name, source, opaque_alpha and source != "alpha")
    return ViewSet(rgb=rgb, alpha=alpha, normals=normals)
