"""Which image the user means, as a file the worker can read.

The worker is another process, so it needs a path. Besides one image, a user may bring the
six views themselves (a 3x2 grid image, DESIGN.md §4, and optionally its normal maps), which
skips the multi-view prior. An image datablock that is packed, generated or painted in
memory is written as a copy to Blender's temporary folder first.
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy


# Formats the worker (Pillow) reads, with the file suffix for each.
READABLE_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}


class ImageSourceError(ValueError):
    """No usable image; the message tells the user what to pick."""


def editor_image(screen: bpy.types.Screen | None) -> bpy.types.Image | None:
    """The image of the first Image Editor on the screen that shows one."""
    if screen is None:
        return None
    for area in screen.areas:
        if area.type == "IMAGE_EDITOR" and area.spaces.active.image is not None:
            return area.spaces.active.image
    return None


def image_to_file(image: bpy.types.Image) -> Path:
    """A readable file with this image's pixels (its own file when that is up to date)."""
    if image.source == "FILE" and not image.packed_file and not image.is_dirty:
        path = Path(bpy.path.abspath(image.filepath, library=image.library))
        if path.is_file():
            return path
    if image.size[0] == 0 or image.size[1] == 0:
        raise ImageSourceError(f"image '{image.name}' has no pixels")
    suffix = READABLE_FORMATS.get(image.file_format)
    if suffix is None:
        raise ImageSourceError(f"image '{image.name}' is {image.file_format}; save it as PNG or JPEG first")
    out = Path(bpy.app.tempdir or os.path.join(os.path.expanduser("~"), ".cache")) / "latentdreamer"
    out.mkdir(parents=True, exist_ok=True)
    target = out / (bpy.path.clean_name(image.name) + suffix)
    # A copy: the user's datablock keeps its own path, source and "unsaved changes" state.
    image.save(filepath=str(target), save_copy=True)
    return target


def _file(raw: str, what: str) -> Path:
    if not raw:
        raise ImageSourceError(f"choose the {what}")
    path = Path(bpy.path.abspath(raw))
    if not path.is_file():
        raise ImageSourceError(f"{what} not found: {path}")
    return path


def resolve(settings, screen: bpy.types.Screen | None) -> tuple[dict, str]:
    """(the generate request's input fields, a name for the object) from the scene settings.

    Raises ImageSourceError with a message for the user.
    """
    if settings.image_source == "FILE":
        path = _file(settings.filepath, "image file")
        return {"image": str(path)}, path.stem
    if settings.image_source == "VIEWS":
        grid = _file(settings.views_grid, "six-view grid image")
        inputs: dict = {"views": {"grid": str(grid)}}
        if settings.normals_grid:
            inputs["normals"] = {"grid": str(_file(settings.normals_grid, "normal-map grid image"))}
        return inputs, grid.stem
    image = settings.image if settings.image_source == "DATABLOCK" else editor_image(screen)
    if image is None:
        where = "in the panel" if settings.image_source == "DATABLOCK" else "in an Image Editor"
        raise ImageSourceError(f"choose an image {where}")
    return {"image": str(image_to_file(image))}, Path(image.name).stem
