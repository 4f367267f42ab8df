"""Job folders and the files in them: meshes as npz (and GLB on request), views as PNG.

Lifetime rule (docs/protocol.md): the worker owns a root folder. Without `--jobs-dir` it is
a fresh temporary folder removed, whole, when the worker exits; with `--jobs-dir` the folder
is the caller's and results outlive the worker. Either way a job folder lives until `keep`
newer jobs have started, so a client must read (or copy) a result soon after its event.
Only folders carrying the worker's marker file are ever deleted. Folders are 0700 and files
0600. At start a worker removes what dead workers left: their temporary roots, and in a
shared --jobs-dir the folders of jobs they never finished.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

from latentdreamer.errors import write_failed
from latentdreamer.geometry.mesh import Mesh
from latentdreamer.io.images import to_uint8
from latentdreamer.io.output_files import atomic_write, process_alive, process_start_time, remove_debris

log = logging.getLogger("latentdreamer.worker")

MARKER = ".latentdreamer-job"
ROOT_MARKER = ".latentdreamer-worker"
"""In a temporary root: the pid (and start time) of the worker that made it, so a later
worker can tell a dead worker's leftover root from a live one's."""
TEMP_PREFIX = "latentdreamer-worker-"
FINISHED = ("result.npz", "cancelled.npz")
"""A job folder holding one of these finished; one without them was cut short."""
FOLDER_MODE, FILE_MODE = 0o700, 0o600
"""Results are the user's: other local users may not list or read them."""


class JobFolders:
    def __init__(self, root: str | os.PathLike | None, keep: int) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1 (the running job's folder)")
        self.keep = keep
        self.temporary = root is None
        self.removed_stale: list[Path] = []
        if root is None:
            self.removed_stale = remove_stale_roots(Path(tempfile.gettempdir()))
            self.root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))  # 0700
            _write_private(self.root / ROOT_MARKER, _process_identity(os.getpid()))
        else:
            self.root = Path(root).expanduser().resolve()
            self.root.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
            self.removed_stale = self._remove_unfinished_of_dead_workers()
        self._count = 0

    def create(self, job_id: str) -> Path:
        """A new empty folder (0700) for `job_id`; older owned folders beyond `keep` are removed.

        A root deleted while the worker runs (a temp cleaner, a user) is made again; any
        other failure is an OutputError `write_failed` naming the folder.
        """
        self._count += 1
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)[:40]
        stamp = time.strftime("%Y%m%dT%H%M%S")
        folder = self.root / f"job-{stamp}-{os.getpid()}-{self._count:05d}-{slug}"
        try:
            if not self.root.is_dir():
                log.warning("the jobs folder %s was removed; making it again", self.root)
                self.root.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
                if self.temporary:
                    _write_private(self.root / ROOT_MARKER, _process_identity(os.getpid()))
            folder.mkdir(mode=FOLDER_MODE)
            (folder / "views").mkdir(mode=FOLDER_MODE)  # made here so that it is private too
            _write_private(folder / MARKER, f"{job_id}\n{socket.gethostname()}\n")
        except OSError as exc:
            raise write_failed(
                folder, exc, "free disk space on the worker's machine, or start the worker with --jobs-dir on a disk with room"
            ) from None
        self._prune(keep_also=folder)
        return folder

    def owned(self) -> list[Path]:
        """Job folders under the root that a worker made, oldest first."""
        try:
            found = [p for p in self.root.iterdir() if p.is_dir() and (p / MARKER).is_file()]
        except OSError:
            return []
        return sorted(found, key=lambda p: ((p / MARKER).stat().st_mtime, p.name))

    def _prune(self, keep_also: Path) -> None:
        folders = [p for p in self.owned() if p != keep_also]
        for old in folders[: max(0, len(folders) - (self.keep - 1))]:
            if _owner_alive(old):
                continue  # another worker sharing this --jobs-dir may still be using it
            log.info("removing old job folder %s", old)
            shutil.rmtree(old, ignore_errors=True)

    def _remove_unfinished_of_dead_workers(self) -> list[Path]:
        """In a caller's --jobs-dir: folders of workers that died mid-job (no result, no
        cancelled mesh) go, and half-written files in finished ones; results are kept."""
        removed = []
        for folder in self.owned():
            if _owner_alive(folder) or _folder_pid(folder) == os.getpid():
                continue
            if not any((folder / name).is_file() for name in FINISHED):
                log.info("removing the unfinished job folder %s of a worker that is gone", folder)
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
            else:
                removed.extend(remove_debris(folder))
        return removed

    def close(self) -> None:
        """At exit: a temporary root goes entirely; a caller's root keeps the newest `keep` jobs."""
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)


def remove_stale_roots(tmp: Path) -> list[Path]:
    """Temporary roots of workers that are gone (killed, crashed, power cut), ours only.

    A root is removed only when its marker names a process that no longer runs (or whose
    pid another process now has). A root without a marker is left alone: it may belong to
    a worker that is starting this very moment, or to an older version still running.
    """
    removed = []
    try:
        candidates = [p for p in tmp.iterdir() if p.name.startswith(TEMP_PREFIX)]
    except OSError:
        return removed
    for root in candidates:
        try:
            if not root.is_dir() or root.is_symlink() or root.stat().st_uid != os.getuid():
                continue
            text = (root / ROOT_MARKER).read_text(encoding="utf-8").split()
            pid = int(text[0])
            if pid == os.getpid() or process_alive(pid, text[1] if len(text) > 1 else None):
                continue
        except (OSError, ValueError, IndexError):
            continue
        log.info("removing %s, left by a worker that is gone", root)
        shutil.rmtree(root, ignore_errors=True)
        removed.append(root)
    return removed


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _process_identity(pid: int) -> str:
    return f"{pid} {process_start_time(pid) or ''}".strip()


def _folder_pid(folder: Path) -> int | None:
    try:
        return int(folder.name.split("-")[2])
    except (IndexError, ValueError):
        return None


def _owner_alive(folder: Path) -> bool:
    """True when the folder belongs to another worker process that is still running here, or
    to a worker on another machine (a --jobs-dir shared over the network): a pid says nothing
    about another host's processes, so those folders are never judged dead."""
    pid = _folder_pid(folder)
    if pid is None:
        return False
    try:
        lines = (folder / MARKER).read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    if len(lines) > 1 and lines[1] != socket.gethostname():
        return True
    if pid == os.getpid():
        return False
    return process_alive(pid)


def private_files(folder: Path) -> None:
    """Make the files directly in `folder` 0600 (written by code that uses the umask)."""
    for item in folder.iterdir():
        if item.is_file():
            os.chmod(item, FILE_MODE)


def write_mesh_npz(path: Path, mesh: Mesh) -> dict[str, int]:
    """vertices float32 (V,3), faces int32 (F,3), colors uint8 (V,4) sRGB when the mesh has colours.

    Written aside and renamed (io/output_files.py), 0600: a reader never sees half a file,
    a failed write (disk full, job folder removed) leaves no part file and raises an
    OutputError `write_failed` naming the file.
    """
    arrays = {
        "vertices": np.ascontiguousarray(mesh.vertices, dtype=np.float32),
        "faces": np.ascontiguousarray(mesh.faces, dtype=np.int32),
    }
    if mesh.colors is not None:
        arrays["colors"] = to_uint8(mesh.colors)
    if mesh.uvs is not None:  # a baked texture: UVs per face corner (faces' order), the image row 0 on top
        arrays["uvs"] = np.ascontiguousarray(mesh.uvs.reshape(-1, 2), dtype=np.float32)
        arrays["texture"] = to_uint8(mesh.texture)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write, mode=FILE_MODE, make_parents=False)
    return {"num_vertices": int(mesh.num_vertices), "num_faces": int(mesh.num_faces)}


def write_glb(path: Path, mesh: Mesh) -> None:
    """The mesh as GLB, written like write_mesh_npz."""
    from latentdreamer.io.mesh_io import save_mesh

    atomic_write(path, lambda tmp: save_mesh(mesh, tmp, "glb"), mode=FILE_MODE, make_parents=False)
