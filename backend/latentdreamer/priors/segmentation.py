"""Cutting the object out of the input image, with the best method this machine has.

Order (docs/design.md §5 "Background removal"): rembg when it is installed *and* its u2net
model is on disk — fetched by `latentdreamer weights download background-removal` (the
add-on's Download Models) into the models folder with a pinned SHA-256, or already where
rembg keeps it — else the image's own alpha channel, else a flood fill of the plain
background from the image border. A download is never started from here (rembg is pointed
at the verified file, so it never fetches one itself), and a damaged model file stops with
its name and the fix rather than falling back silently. The method used is reported,
because a poor cut-out is the first thing to suspect when the views look wrong.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from latentdreamer.locations import Locations
from latentdreamer.priors.errors import PriorInputError

METHODS = ("auto", "rembg", "alpha", "plain")
REMBG_MODEL = "u2net"
PLAIN_TOLERANCE = 0.08
"""Largest per-channel difference from the border colour still counted as background."""
MIN_OBJECT_FRACTION = 1e-4

_NO_OBJECT_HINT = "use an image whose object stands out from a plain background, or a PNG with transparency around the object"


@dataclass(frozen=True)
class Segmentation:
    mask: np.ndarray
    """(H, W) float32 alpha in [0, 1], 1 on the object."""
    method: str
    notes: list[str] = field(default_factory=list)


def rembg_model_path(model: str = REMBG_MODEL, locations: Locations | None = None) -> Path | None:
    """The u2net file the backend would use (models folder first, then rembg's own home),
    or None when it is not on disk. Only `u2net` is managed (downloaded and pinned)."""
    from latentdreamer.priors.model_store import MODELS, model_status

    if model != REMBG_MODEL:
        return None
    st = model_status(MODELS["background-removal"], locations or Locations())
    return st.path / f"{model}.onnx" if st.complete else None


def rembg_ready(model: str = REMBG_MODEL, locations: Locations | None = None) -> bool:
    return importlib.util.find_spec("rembg") is not None and rembg_model_path(model, locations) is not None


_sessions: dict[tuple, object] = {}
_session_lock = threading.Lock()


def _rembg_session(path: Path, locations: Locations):
    """A rembg session on exactly this verified file, kept for the process (a worker cuts
    out many images; u2net takes a second to load).

    The file's SHA-256 is checked first (weights.check_files raises, naming it, on a
    mismatch). rembg finds models through U2NET_HOME; it is set to the file's folder only
    while the session is made, with rembg's own MD5 check off because ours is stronger and
    a mirror's pinned file may differ — so rembg never starts a download of its own."""
    from latentdreamer.priors.model_store import MODELS, check_files

    check_files(MODELS["background-removal"], path.parent, locations)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _session_lock:
        if key in _sessions:
            return _sessions[key]
        from rembg import new_session

        saved = {k: os.environ.get(k) for k in ("U2NET_HOME", "MODEL_CHECKSUM_DISABLED")}
        os.environ["U2NET_HOME"], os.environ["MODEL_CHECKSUM_DISABLED"] = str(path.parent), "1"
        try:
            session = new_session(path.stem)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        _sessions.clear()  # one model file in use at a time
        _sessions[key] = session
        return session


def _rembg_mask(rgba: np.ndarray, path: Path, locations: Locations) -> np.ndarray:
    from PIL import Image
    from rembg import remove

    image = Image.fromarray(np.round(rgba[..., :3] * 255).astype(np.uint8), "RGB")
    mask = remove(image, session=_rembg_session(path, locations), only_mask=True)
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


def segment(rgba: np.ndarray, has_alpha: bool, method: str = "auto", locations: Locations | None = None) -> Segmentation:
    """The object's mask by the first usable method (see module doc); errors if it is empty.

    `locations` is where the background-removal model was downloaded (None: the usual places)."""
    if method not in METHODS:
        raise ValueError(f"unknown segmentation method {method!r}; choose one of {', '.join(METHODS)}")
    notes: list[str] = []
    locations = locations or Locations()
    if method in ("auto", "rembg"):
        installed = importlib.util.find_spec("rembg") is not None
        path = rembg_model_path(locations=locations)
        if installed and path is not None:
            return _checked(Segmentation(_rembg_mask(rgba, path, locations), "rembg", notes))
        if not installed:
            missing, fix = (
                "rembg is not installed",
                ("pip install rembg onnxruntime (the backend's `segmentation` extra; the add-on's Install Backend installs it)"),
            )
        else:
            missing, fix = (
                "the background-removal model is not downloaded",
                ("run `latentdreamer weights download background-removal` (the add-on: Download Models)"),
            )
        if method == "rembg":
            raise PriorInputError(
                f"background removal with rembg was asked for but {missing}", f"{fix}, or choose another segmentation method"
            )
        missing = f"{missing} ({fix})"
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
