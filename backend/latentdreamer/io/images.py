"""Images on disk and on the protocol: 8-bit sRGB PNG, RGBA where there is a mask.

In memory an image is a float32 (H, W, C) array in [0, 1], C = 3 or 4, with row 0 at the
top. The values stay sRGB-encoded: nothing here converts to linear light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # the module stays torch-free for processes that only move files
    import torch


def read_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) or, when the file has transparency, (H, W, 4) float32 in [0, 1]."""
    with Image.open(path) as img:
        has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
        if img.mode.startswith("I;16"):  # 16-bit grey: keep the precision
            grey = np.asarray(img, dtype=np.float32) / 65535.0
            return np.repeat(grey[..., None], 3, axis=2)
        img = img.convert("RGBA" if has_alpha else "RGB")
        return np.asarray(img, dtype=np.float32) / 255.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] (values outside are clipped) or uint8 in, uint8 out."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write (H, W), (H, W, 1|3|4) float [0, 1] or uint8 as an 8-bit PNG; returns the path."""
    pixels = to_uint8(image)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise ValueError(f"expected an (H, W) or (H, W, 1|3|4) image, got shape {np.shape(image)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")
    return path


def rendered_to_image(rendered: torch.Tensor) -> np.ndarray:
    """A rasteriser buffer (..., H, W, C), row 0 at the bottom, as a float32 image array with
    row 0 at the top. The one place where that flip happens."""
    return np.ascontiguousarray(rendered.detach().cpu().float().flip(-3).numpy())
