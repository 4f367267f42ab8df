"""Which image the user means, as a file the worker can read.

The worker is another process, so it needs a path. Besides one image, a user may describe
the object in words (the backend makes the image first), or bring the six views themselves,
which skips the multi-view prior: one grid image of two columns by three rows (view k at row
k // 2, column k % 2) or a folder of six files, each optionally with normal maps. An image datablock that is packed, generated or painted in
memory is written as a copy to Blender's temporary folder first.
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy
import numpy as np

from .atomic_files import write_atomically

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
    # Saved through a temporary copy of the pixels, so the user's datablock keeps its own path,
    # source and "unsaved changes" state (`Image.save(save_copy=...)` is newer than 4.2).
    width, height = image.size
    pixels = np.empty(width * height * image.channels, np.float32)
    image.pixels.foreach_get(pixels)
    if image.channels != 4:
        pixels = _to_rgba(pixels.reshape(-1, image.channels))
    copy = bpy.data.images.new("latentdreamer-export", width, height, alpha=True, float_buffer=image.is_float)
    try:
        copy.colorspace_settings.name = image.colorspace_settings.name
        copy.pixels.foreach_set(pixels.ravel())
        copy.file_format = image.file_format

        def save(tmp: Path) -> None:
            copy.filepath_raw = str(tmp)
            copy.save()

        write_atomically(target, save)  # the backend never reads half an image
    finally:
        bpy.data.images.remove(copy)
    return target


def _to_rgba(px: np.ndarray) -> np.ndarray:
    """(N, 1..3) channels -> (N, 4): grey or RGB, opaque."""
    rgb = np.repeat(px[:, :1], 3, axis=1) if px.shape[1] < 3 else px[:, :3]
    return np.concatenate([rgb, np.ones((len(px), 1), np.float32)], axis=1)


def _file(raw: str, what: str) -> Path:
    if not raw:
        raise ImageSourceError(f"choose the {what}")
    path = Path(bpy.path.abspath(raw))
    if not path.is_file():
        raise ImageSourceError(f"{what} not found: {path}")
    return path


NUM_VIEWS = 6


def folder_views(folder: Path) -> tuple[list[str], list[str]]:
    """(six view files, zero or six normal-map files) of a folder, each in name order.

    Normal maps are the images whose names contain "normal" (the backend writes rgb_k.png
    and normal_k.png); every other image is a view. Anything but six of each is an error
    that says what was found.
    """
    suffixes = set(READABLE_FORMATS.values()) | {".jpeg", ".tiff"}
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    normals = [str(p) for p in images if "normal" in p.name.lower()]
    views = [str(p) for p in images if "normal" not in p.name.lower()]
    if len(views) != NUM_VIEWS:
        raise ImageSourceError(
            f"{folder} holds {len(views)} view images; it needs exactly {NUM_VIEWS} "
            "(in camera order by name, e.g. rgb_0.png ... rgb_5.png)"
        )
    if normals and len(normals) != NUM_VIEWS:
        raise ImageSourceError(f"{folder} holds {len(normals)} normal maps; give all {NUM_VIEWS} or none")
    return views, normals


def resolve(settings, screen: bpy.types.Screen | None) -> tuple[dict, str]:
    """(the generate request's input fields, a name for the object) from the scene settings.

    Raises ImageSourceError with a message for the user.
    """
    if settings.image_source == "FILE":
        path = _file(settings.filepath, "image file")
        return {"image": str(path)}, path.stem
    if settings.image_source == "PROMPT":
        prompt = settings.prompt.strip()
        if not prompt:
            raise ImageSourceError("describe the object in the Prompt field, e.g. 'a red ceramic teapot'")
        words = [w for w in "".join(c if c.isalnum() else " " for c in prompt).split()][:4]
        return {"prompt": prompt}, "_".join(words) or "prompt"
    if settings.image_source == "VIEWS" and settings.views_layout == "FILES":
        if not settings.views_folder:
            raise ImageSourceError("choose the folder with the six view files")
        folder = Path(bpy.path.abspath(settings.views_folder))
        if not folder.is_dir():
            raise ImageSourceError(f"views folder not found: {folder}")
        views, normals = folder_views(folder)
        inputs = {"views": {"files": views}}
        if normals:
            inputs["normals"] = {"files": normals}
        return inputs, folder.name
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
