"""Writing results so that a failed run never leaves a broken file or destroys a good one.

Two rules, used by the CLI, the worker and the evaluation alike:

- `check_output_path` runs before any compute: the suffix, the folder (exists or can be
  made, is a folder, is writable: tested by creating a file there) and, without
  `overwrite`, that nothing is there yet. A bad path fails in milliseconds, not after
  the whole pipeline.
- `atomic_write` writes into a temporary file in the same folder and renames it over the
  final name only when it is complete, so a full disk or a kill leaves the earlier file
  as it was and no half file under the final name. Without `overwrite` the rename is a
  hard link that fails if the name appeared meanwhile (a second run to the same path),
  so two runs never silently replace each other's result.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from latentdreamer.errors import OutputError, write_failed

PART_MARK = ".part"
"""Temporary files carry this before their suffix (`.result.ld42-x1y2.part.npz`): anything with it is debris."""


def _stage_prefix(name: str) -> str:
    """`.NAME.ldPID-`: the writer's pid in the name lets a later run remove what a killed one left."""
    return f".{name}.ld{os.getpid()}-"


def process_alive(pid: int, start_time: str | None = None) -> bool:
    """True when `pid` runs on this machine (not a zombie) and, if given, started at
    `start_time` (clock ticks after boot, from /proc: a reused pid is another process)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows; assume alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours to signal
        return True
    if os.path.exists("/proc/self/stat"):
        now = process_start_time(pid)
        if now is None:
            return False  # a zombie, or gone between the two checks
        if start_time and now != start_time:
            return False
    return True


def process_start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None for a zombie or none."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else fields[19]


def remove_stale_stages(folder: Path) -> list[Path]:
    """Temporary files and folders in `folder` left by a writer that was killed (SIGKILL, a
    power cut): named `.NAME.ldPID-*.part*` with a PID that no longer runs. Returns them."""
    import re
    import shutil

    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = re.match(r"^\..*\.ld(\d+)-[^/]*\.part", entry.name)
        if not match or int(match.group(1)) == os.getpid() or process_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def _default_mode() -> int:
    """0o666 minus the umask: what `open(path, "w")` would have given the file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def nearest_existing(path: Path) -> Path:
    """`path` or its closest ancestor that exists."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def check_folder(folder: Path, what: str = "output folder") -> None:
    """The folder exists or can be created, and a file can be written in it; else OutputError.

    The write test creates and removes a temporary file: permission bits do not tell the
    whole story (root, ACLs, read-only mounts, full quotas). What a killed earlier run left
    there (`remove_stale_stages`) is removed on the way.
    """
    existing = nearest_existing(folder)
    if existing.is_dir():
        remove_stale_stages(existing)
    if not existing.is_dir():
        raise OutputError(
            f"the {what} {folder} cannot be created: {existing} is a file, not a folder",
            "choose a path whose folders are folders",
            code="bad_output",
        )
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".latentdreamer-write-test-")
    except OSError as exc:  # the place is unusable before anything ran: fix the command (exit 2)
        err = write_failed(existing, exc, "choose a folder you can write to")
        raise OutputError(err.message, err.hint, code="bad_output") from None
    os.close(fd)
    os.unlink(probe)


def check_output_path(path: str | os.PathLike, suffixes: Sequence[str], overwrite: bool, what: str = "output") -> Path:
    """The output path, checked before any work (see the module docstring); returns it as a Path."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise OutputError(
            f"{what} {path} is a folder", f"give a file name inside it, e.g. {path / ('result' + suffixes[0])}", code="bad_output"
        )
    if path.suffix.lower() not in suffixes:
        raise OutputError(
            f"{what} {path} must end in {', '.join(suffixes[:-1])} or {suffixes[-1]}",
            f"e.g. {path.with_suffix(suffixes[0]).name}",
            code="bad_output",
        )
    if path.exists() and not overwrite:
        raise OutputError(
            f"{what} {path} already exists; it was left as it is",
            "add --overwrite to replace it, or choose another name",
            code="output_exists",
        )
    check_folder(path.parent)
    return path


def existing_files(folder: Path, names: Sequence[str]) -> list[Path]:
    """Which of `names` already exist in `folder` (for refusing to replace a run's views)."""
    return [folder / n for n in names if (folder / n).exists()]


@contextlib.contextmanager
def temporary_sibling(path: Path) -> Iterator[Path]:
    """A temporary file name next to `path` (same folder, so the rename is atomic); removed
    if it still exists when the block ends, whatever happened."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=_stage_prefix(path.stem), suffix=PART_MARK + path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[Path], object],
    overwrite: bool = True,
    mode: int | None = None,
    make_parents: bool = True,
) -> Path:
    """Write `path` through `write(tmp)` and an atomic rename; returns `path`.

    `mode`: the file's permission bits (None: what the umask gives; the worker passes
    0o600). An OSError while writing (disk full, size limit, folder removed) becomes an
    OutputError `write_failed` naming the file; the temporary file is removed and an
    earlier file at `path` is untouched. Without `overwrite`, a file that appeared at
    `path` meanwhile is an OutputError `output_exists` and is not replaced.
    """
    path = Path(path)
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        with temporary_sibling(path) as tmp:
            write(tmp)
            os.chmod(tmp, _default_mode() if mode is None else mode)
            if overwrite:
                os.replace(tmp, path)
            else:
                _link_no_replace(tmp, path)
    except OutputError:
        raise
    except OSError as exc:
        raise write_failed(path, exc) from None
    return path


def _link_no_replace(tmp: Path, path: Path) -> None:
    """Give `tmp` the name `path` unless something has that name already."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputError(
            f"{path} appeared while this run was working (another run writing the same file?); "
            "it was left as it is and this run's result was not saved",
            "run again with --overwrite, or choose another name",
            code="output_exists",
        ) from None
    except OSError:  # a file system without hard links (FAT, some network shares)
        if path.exists():
            raise OutputError(
                f"{path} appeared while this run was working; it was left as it is",
                "run again with --overwrite, or choose another name",
                code="output_exists",
            ) from None
        os.replace(tmp, path)


VIEW_FILE_NAMES: tuple[str, ...] = (
    *(f"rgb_{k}.png" for k in range(6)),
    *(f"normal_{k}.png" for k in range(6)),
    "condition.png",
    "views_grid.png",
    "normals_grid.png",
    "notes.txt",
    "prompt_image.png",
)
"""Everything `generate` may save in a views folder (io/view_files.py, priors/single_image.py)."""


class StagedFolder:
    """A temporary folder beside the real destination to write a set of files into.

    `publish()` renames its files into the destination one by one (each atomically, in
    name order with `last` last: an OBJ after its MTL and texture, so the OBJ never points
    at files that are not there yet). Leaving the `with` block removes the temporary
    folder and whatever was not published, whatever happened: a failure half way leaves
    no half-written file, and an earlier run's files are replaced only by complete ones.
    """

    def __init__(self, destination: Path, overwrite: bool = True, what: str = "folder") -> None:
        self.destination = Path(destination)
        self.overwrite = overwrite
        self.what = what
        self.path: Path | None = None

    def __enter__(self) -> StagedFolder:
        parent = nearest_existing(self.destination)
        if parent == self.destination and not parent.is_dir():
            parent = parent.parent
        try:
            self.path = Path(tempfile.mkdtemp(dir=parent, prefix=_stage_prefix(self.destination.name), suffix=PART_MARK))
        except OSError as exc:
            raise write_failed(self.destination, exc) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        import shutil

        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    def publish(self, last: str | None = None) -> list[Path]:
        """Move every staged file into the destination folder; returns their new paths."""
        assert self.path is not None, "publish() inside the with block"
        items = sorted(self.path.iterdir(), key=lambda p: (p.name == last, p.name))
        moved = []
        try:
            self.destination.mkdir(parents=True, exist_ok=True)
            for item in items:
                target = self.destination / item.name
                os.chmod(item, _default_mode())
                if self.overwrite:
                    os.replace(item, target)
                else:
                    _link_no_replace(item, target)
                    item.unlink()
                moved.append(target)
        except OSError as exc:
            raise write_failed(self.destination, exc) from None
        return moved


def remove_debris(folder: Path) -> list[Path]:
    """Delete temporary files a killed writer left in `folder` (not recursive); returns them."""
    removed = []
    with contextlib.suppress(OSError):
        for p in folder.iterdir():
            if p.name.startswith(".") and PART_MARK in p.name and p.is_file():
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed.append(p)
    return removed
