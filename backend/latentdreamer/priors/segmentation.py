"""Cutting the object out of the input image, with the best method this machine has.

Order (DESIGN.md §5 "Background removal"): rembg when it is installed *and* its model file
is already on disk (a download is never started from here, so offline machines and tests
stay offline), else the image's own alpha channel, else a flood fill of the plain
background from the image border. The method used is reported, because a poor cut-out is
the first thing to suspect when the views look wrong.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from latentdreamer.priors.errors import PriorInputError

METHODS = ("auto", "rembg", "alpha", "plain")
REMBG_MODEL = "u2net"
PLAIN_TOLERANCE = 0.08
"""Largest per-channel difference from the border colour still counted as background."""
MIN_OBJECT_FRACTION = 1e-4

_NO_OBJECT_HINT = (
    "use an image whose object stands out from a plain background, or a PNG with transparency "
    "around the object"
)


@dataclass(frozen=True)
class Segmentation:
    mask: np.ndarray
    """(H, W) float32 alpha in [0, 1], 1 on the object."""
    method: str
    notes: list[str] = field(default_factory=list)


def rembg_model_path(model: str = REMBG_MODEL) -> Path:
    """Where rembg keeps its model file (it honours U2NET_HOME, default ~/.u2net)."""
    home = Path(os.environ.get("U2NET_HOME") or Path.home() / ".u2net").expanduser()
    return home / f"{model}.onnx"


def rembg_ready(model: str = REMBG_MODEL) -> bool:
    return importlib.util.find_spec("rembg") is not None and rembg_model_path(model).is_file()


def _rembg_mask(rgba: np.ndarray, model: str = REMBG_MODEL) -> np.ndarray:
    from PIL import Image
    from rembg import new_session, remove

    image = Image.fromarray(np.round(rgba[..., :3] * 255).astype(np.uint8), "RGB")
    mask = remove(image, session=new_session(model), only_mask=True)
    return np.asarray(mask.convert("L"), dtype=np.float32) / 255.0


def alpha_is_useful(rgba: np.ndarray, has_alpha: bool) -> bool:
    """An alpha channel that is opaque everywhere carries no cut-out."""
    return has_alpha and float((rgba[..., 3] < 0.5).mean()) > MIN_OBJECT_FRACTION


def plain_background_mask(rgb: np.ndarray, tolerance: float = PLAIN_TOLERANCE) -> tuple[np.ndarray, list[str]]:
    """Flood fill from the border: pixels near the border's median colour *and* connected to
    the border are background; a same-coloured hole inside the object stays object."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]], axis=0)
    colour = np.median(border, axis=0)
    close = np.abs(rgb - colour).max(axis=2) <= tolerance
    labels, _ = ndimage.label(close)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, edge_labels[edge_labels > 0])
    foreground = ~background
    # Drop specks (JPEG noise, dust) far smaller than the object.
    parts, count = ndimage.label(foreground)
    if count > 1:
        sizes = ndimage.sum(foreground, parts, index=np.arange(1, count + 1))
        keep = np.flatnonzero(sizes >= max(16.0, 0.01 * sizes.max())) + 1
        foreground = np.isin(parts, keep)
    notes = []
    uniform = float((np.abs(border - colour).max(axis=1) <= tolerance).mean())
    if uniform < 0.5:
        notes.append(
            f"the background is not plain (only {uniform:.0%} of the border matches its main colour); "
            "the cut-out may be poor: give a PNG with transparency or install rembg"
        )
    return foreground.astype(np.float32), notes


def segment(rgba: np.ndarray, has_alpha: bool, method: str = "auto") -> Segmentation:
    """The object's mask by the first usable method (see module doc); errors if it is empty."""
    if method not in METHODS:
        raise ValueError(f"unknown segmentation method {method!r}; choose one of {', '.join(METHODS)}")
    notes: list[str] = []
    if method in ("auto", "rembg"):
        if rembg_ready():
            result = Segmentation(_rembg_mask(rgba), "rembg", notes)
            return _checked(result)
        missing = (
            "rembg is not installed"
            if importlib.util.find_spec("rembg") is None
            else f"rembg's model is not on disk ({rembg_model_path()})"
        )
        if method == "rembg":
            raise PriorInputError(
                f"background removal with rembg was asked for but {missing}",
                "pip install rembg and run it once with network access to fetch its model, "
                "or choose another segmentation method",
            )
        notes.append(f"{missing}; fell back")
    if method in ("auto", "alpha"):
        if alpha_is_useful(rgba, has_alpha):
            return _checked(Segmentation(rgba[..., 3].astype(np.float32), "alpha", notes))
        if method == "alpha":
            raise PriorInputError("the image has no transparency to cut the object out with", _NO_OBJECT_HINT)
    mask, plain_notes = plain_background_mask(rgba[..., :3])
    return _checked(Segmentation(mask, "plain-background", notes + plain_notes))


def _checked(seg: Segmentation) -> Segmentation:
    if float((seg.mask > 0.5).mean()) <= MIN_OBJECT_FRACTION or int((seg.mask > 0.5).sum()) < 16:
        raise PriorInputError(f"no object found in the image (segmentation: {seg.method})", _NO_OBJECT_HINT)
    return seg
