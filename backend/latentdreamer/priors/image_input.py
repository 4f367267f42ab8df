"""The user's single image made ready for Zero123++: decoded, cut out, framed, on grey.

Zero123++ v1.2 was trained on objects centred in a square frame on a flat grey background
(RGB 127); an off-centre, tiny or cluttered input gives inconsistent views, so every image
is brought to that framing before diffusion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from latentdreamer.locations import Locations
from latentdreamer.priors.errors import PriorInputError
from latentdreamer.priors.segmentation import Segmentation, segment

MIN_SIDE = 16
MAX_SIDE = 8192
GREY = 127.0 / 255.0
"""Zero123++ composites its condition image on RGB 127 (docs/design.md §5)."""
CONDITION_SIZE = 320
"""Zero123++ v1.2's `feature_extractor_vae` works at 320 x 320 (its tile size)."""
OBJECT_FILL = 0.85
"""The framing setting's default (`generate --framing`): the longest side of the object's box
as a fraction of the square condition image. Zero123++ v1.2's own examples give it the image
as it is; front ends that cut the object out first (InstantMesh's run.py and app.py, TripoSR's
scripts) resize the cut-out to 0.85 of the square, which is where this value comes from. A
fixed framing makes every input look alike to the model, whatever the photo's margins, and
0.85 leaves room for views that see the object wider than the input does. The model does
not promise to show the object at any scale from it: the views' actual scale is measured from
their silhouettes (render/silhouette_scale.py) and reported in the job's notes."""
FRAMING_RANGE = (0.3, 1.0)
"""Framings accepted: below 0.3 the object is a few dozen pixels of the 320 px input."""

_SIZE_HINT = f"use an image between {MIN_SIDE} and {MAX_SIDE} pixels per side"


@dataclass(frozen=True)
class LoadedImage:
    """Float RGBA in [0, 1] (H, W, 4), sRGB values; `has_alpha` is whether the file had any."""

    rgba: np.ndarray
    has_alpha: bool


@dataclass(frozen=True)
class PreparedImage:
    """The condition image Zero123++ gets, and how it was made (for the UI and the log)."""

    condition: np.ndarray
    """(S, S, 3) float in [0, 1], the object composited on grey 127."""
    rgba: np.ndarray
    """(S, S, 4) the same framing with the cut-out alpha, for previews."""
    segmentation: str
    notes: list[str] = field(default_factory=list)


def _decode(img: Image.Image) -> LoadedImage:
    """Any Pillow mode to float RGBA, keeping 16-bit and float precision where there is one."""
    mode = img.mode
    has_alpha = "A" in img.getbands() or "transparency" in img.info
    if mode.startswith("I") or mode == "F":
        grey = np.asarray(img, dtype=np.float64)
        if mode == "F":
            scale = max(1.0, float(grey.max()))
        else:  # 16-bit greyscale PNG/TIFF opens as I;16* or I depending on the Pillow version
            scale = 65535.0 if ("16" in mode or grey.max() > 255) else 255.0
        grey = np.clip(grey / scale, 0.0, 1.0).astype(np.float32)
        rgba = np.concatenate([np.repeat(grey[..., None], 3, axis=2), np.ones_like(grey)[..., None]], axis=2)
        return LoadedImage(rgba, False)
    if mode == "RGBa":  # premultiplied: Pillow un-premultiplies on convert
        has_alpha = True
    rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
    return LoadedImage(rgba, has_alpha)


def load_image(path: str | Path) -> LoadedImage:
    """Open PNG, JPEG, WebP, TIFF, BMP, GIF (first frame) in any mode; EXIF rotation applied.

    Every failure a user can cause is a `PriorInputError` with a hint, never a Pillow trace.
    """
    path = Path(path)
    if not path.is_file():
        raise PriorInputError(
            f"image file not found: {path}", "check the path (and that it is a file, not a folder)", code="file_not_found"
        )
    try:
        with Image.open(path) as img:
            _check_size(img.size, path)
            img.seek(0)
            img = ImageOps.exif_transpose(img)
            img.load()
            return _decode(img)
    except PriorInputError:
        raise
    except Image.DecompressionBombError as exc:
        raise PriorInputError(f"{path.name} is too large to open safely ({exc})", _SIZE_HINT, code="image_too_large") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise PriorInputError(
            f"cannot read {path.name} as an image ({exc.__class__.__name__}: {exc})",
            "save it as PNG (with transparency if you can) or JPEG and try again",
            code="not_an_image",
        ) from exc


def _check_size(size: tuple[int, int], path: Path | None = None) -> None:
    width, height = size
    name = path.name if path else "the image"
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        code = "image_too_large" if max(width, height) > MAX_SIDE else "invalid_input"
        raise PriorInputError(f"{name} is {width}x{height} pixels", _SIZE_HINT, code=code)


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Float (H, W, C) to (size[1], size[0], C), Lanczos per channel (keeps float precision)."""
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), mode="F").resize(size, Image.LANCZOS))
        for c in range(image.shape[2])
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0)


def check_framing(fill: float) -> float:
    """The framing as a float in FRAMING_RANGE, or a PriorInputError saying which are allowed."""
    lo, hi = FRAMING_RANGE
    if isinstance(fill, bool) or not isinstance(fill, (int, float)) or not lo <= fill <= hi:
        raise PriorInputError(
            f"framing {fill!r} is not a share of the square from {lo} to {hi}",
            f"use --framing {OBJECT_FILL} (the default) or another value from {lo} to {hi}",
            code="bad_settings",
        )
    return float(fill)


def frame_object(rgba: np.ndarray, size: int = CONDITION_SIZE, fill: float = OBJECT_FILL) -> np.ndarray:
    """Crop to the object's box, scale its longest side to `fill` of a square canvas, centre it.

    Works on alpha-premultiplied colour so that resampling never drags background colour
    into the object's edge.
    """
    alpha = rgba[..., 3]
    rows = np.flatnonzero(alpha.max(axis=1) > 0.5)
    cols = np.flatnonzero(alpha.max(axis=0) > 0.5)
    if rows.size == 0:
        raise PriorInputError("no object found in the image (the mask is empty)", "use an image with a visible object")
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = rgba[top:bottom, left:right].astype(np.float32)
    premultiplied = np.concatenate([crop[..., :3] * crop[..., 3:], crop[..., 3:]], axis=2)
    h, w = crop.shape[:2]
    scale = fill * size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    scaled = _resize(premultiplied, (new_w, new_h))
    canvas = np.zeros((size, size, 4), dtype=np.float32)
    y0, x0 = (size - new_h) // 2, (size - new_w) // 2
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = scaled
    a = canvas[..., 3:]
    canvas[..., :3] = np.where(a > 1e-6, canvas[..., :3] / np.maximum(a, 1e-6), 0.0)
    return np.clip(canvas, 0.0, 1.0)


def composite_on_grey(rgba: np.ndarray, grey: float = GREY) -> np.ndarray:
    """(H, W, 3): colour over a flat grey background, as Zero123++ wants its condition image."""
    a = rgba[..., 3:]
    return (rgba[..., :3] * a + grey * (1.0 - a)).astype(np.float32)


def prepare_image(
    source: str | Path | LoadedImage,
    size: int = CONDITION_SIZE,
    fill: float = OBJECT_FILL,
    segmentation: str = "auto",
    locations: Locations | None = None,
) -> PreparedImage:
    """File (or decoded image) -> cut-out, framed, composited condition image for Zero123++
    (`locations`: where the background-removal model lives)."""
    loaded = source if isinstance(source, LoadedImage) else load_image(source)
    _check_size((loaded.rgba.shape[1], loaded.rgba.shape[0]))
    seg: Segmentation = segment(loaded.rgba, loaded.has_alpha, method=segmentation, locations=locations)
    cut = np.concatenate([loaded.rgba[..., :3], seg.mask[..., None]], axis=2)
    framed = frame_object(cut, size=size, fill=check_framing(fill))
    return PreparedImage(condition=composite_on_grey(framed), rgba=framed, segmentation=seg.method, notes=list(seg.notes))
