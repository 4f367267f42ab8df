"""Job folders and the files in them: meshes as npz (and GLB on request), views as PNG.

Lifetime rule (docs/protocol.md): the worker owns a root folder. Without `--jobs-dir` it is
a fresh temporary folder removed, whole, when the worker exits; with `--jobs-dir` the folder
is the caller's and results outlive the worker. Either way a job folder lives until `keep`
newer jobs have started, so a client must read (or copy) a result soon after its event.
Only folders carrying the worker's marker file are ever deleted.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from latentdreamer.geometry.mesh import Mesh
from latentdreamer.io.images import to_uint8

log = logging.getLogger("latentdreamer.worker")

MARKER = ".latentdreamer-job"


class JobFolders:
    def __init__(self, root: str | os.PathLike | None, keep: int) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1 (the running job's folder)")
        self.keep = keep
        self.temporary = root is None
        if root is None:
            self.root = Path(tempfile.mkdtemp(prefix="latentdreamer-worker-"))
        else:
            self.root = Path(root).expanduser().resolve()
            self.root.mkdir(parents=True, exist_ok=True)
        self._count = 0

    def create(self, job_id: str) -> Path:
        """A new empty folder for `job_id`; older owned folders beyond `keep` are removed."""
        self._count += 1
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)[:40]
        stamp = time.strftime("%Y%m%dT%H%M%S")
        folder = self.root / f"job-{stamp}-{os.getpid()}-{self._count:05d}-{slug}"
        folder.mkdir()
        (folder / MARKER).write_text(job_id, encoding="utf-8")
        self._prune(keep_also=folder)
        return folder

    def owned(self) -> list[Path]:
        """Job folders under the root that a worker made, oldest first."""
        found = [p for p in self.root.iterdir() if p.is_dir() and (p / MARKER).is_file()]
        return sorted(found, key=lambda p: ((p / MARKER).stat().st_mtime, p.name))

    def _prune(self, keep_also: Path) -> None:
        folders = [p for p in self.owned() if p != keep_also]
        for old in folders[: max(0, len(folders) - (self.keep - 1))]:
            if _owner_alive(old):
                continue  # another worker sharing this --jobs-dir may still be using it
            log.info("removing old job folder %s", old)
            shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        """At exit: a temporary root goes entirely; a caller's root keeps the newest `keep` jobs."""
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)


def _owner_alive(folder: Path) -> bool:
    """True when the folder belongs to another worker process that is still running here."""
    try:
        pid = int(folder.name.split("-")[2])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours to signal (or no such check on this platform)
        return True
    return True


def write_mesh_npz(path: Path, mesh: Mesh) -> dict[str, int]:
    """vertices float32 (V,3), faces int32 (F,3), colors uint8 (V,4) sRGB when the mesh has colours."""
    arrays = {
        "vertices": np.ascontiguousarray(mesh.vertices, dtype=np.float32),
        "faces": np.ascontiguousarray(mesh.faces, dtype=np.int32),
    }
    if mesh.colors is not None:
        arrays["colors"] = to_uint8(mesh.colors)
    tmp = path.with_suffix(".part.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # a reader never sees half a file
    return {"num_vertices": int(mesh.num_vertices), "num_faces": int(mesh.num_faces)}


def write_glb(path: Path, mesh: Mesh) -> None:
    from latentdreamer.io.mesh_io import save_mesh

    tmp = path.with_suffix(".part.glb")
    save_mesh(mesh, tmp, "glb")
    os.replace(tmp, path)
