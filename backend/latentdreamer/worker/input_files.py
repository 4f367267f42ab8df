"""Cheap checks of input paths before a job is queued: exists, is an image, is not huge.

Only the image header is read (Pillow opens lazily), so a 500 MB file or a PNG claiming
100000 x 100000 pixels is refused in milliseconds instead of exhausting memory mid-job.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from latentdreamer.worker.protocol import RequestError

MAX_PIXELS = 40_000_000
"""About 6300 x 6300: far above what the prior needs (it sees 320-pixel tiles), below what
would need gigabytes to decode."""


def check_images(paths: tuple[str, ...], request_id: str) -> None:
    from PIL import Image, UnidentifiedImageError

    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_file():
            what = "is a folder, not an image file" if path.is_dir() else "does not exist"
            raise RequestError(
                "file_not_found",
                f"{raw} {what} on the worker's machine",
                "paths are read by the worker; over ssh they must exist on the remote machine",
                request_id,
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    width, height = image.size
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            width = height = None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise RequestError(
                "not_an_image", f"{raw} is not an image the worker can read ({exc})", "use PNG or JPEG", request_id
            ) from None
        if width is None or width * height > MAX_PIXELS:
            size = f"{width} x {height} pixels" if width else "more pixels than Pillow's safety limit"
            raise RequestError(
                "image_too_large",
                f"{raw} is {size}; the limit is {MAX_PIXELS:,} pixels",
                "downscale the image (the prior works on 320-pixel views)",
                request_id,
            )
