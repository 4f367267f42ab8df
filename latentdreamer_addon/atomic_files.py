"""Writing a file so that a failure never leaves half of it or destroys an earlier one.

The add-on's own outputs (a copy of an image for the backend, a .blend per batch object, a
farm manifest) are written under a temporary name in the same folder and renamed into
place only when complete: a full disk or a crash keeps the earlier file whole. Standard
library only (the add-on never imports the backend).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` with a temporary path beside `path`, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".part" + path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
