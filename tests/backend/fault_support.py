"""What the fault-injection suite (test_faults.py) needs besides its table of cases: the bad
inputs it hands to the CLI and the worker, a way to run both as a user does (subprocesses,
real files, signals, a full disk), and the checks of what is left afterwards.

Full disk: a small tmpfs when this process may mount one (root on Linux, `tmpfs_or_none`),
and everywhere a file size limit (RLIMIT_FSIZE set in the child before exec), which makes
writes past the limit fail with EFBIG, as a full disk fails them with ENOSPC.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent / "worker"))
from worker_harness import PipedProcess  # noqa: E402  (the pipes, shared with the worker tests)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_WEIGHTS = ROOT / "backend" / "latentdreamer" / "weights"
PY = sys.executable
TIMEOUT_S = 300


# --- running the CLI and the worker -------------------------------------------------------------


@dataclass
class Outcome:
    """What one run produced: exit status (or the event code) and what it said."""

    code: int | str | None
    out: str = ""
    err: str = ""
    events: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return self.out + self.err + "".join(json.dumps(e) for e in self.events)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a user would have: no test overrides of the shape weights."""
    env = {k: v for k, v in os.environ.items() if k not in ("LATENTDREAMER_SAE_WEIGHTS", "LATENTDREAMER_LIN_WEIGHTS")}
    env.update(extra or {})
    return env


def file_size_limit(limit: int) -> Callable[[], None]:
    """A preexec_fn: writes past `limit` bytes fail with EFBIG (Python ignores SIGXFSZ)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run_cli(
    args: Sequence[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    fsize: int | None = None,
    signal_when: tuple[int, Callable[[], bool]] | None = None,
    timeout: float = TIMEOUT_S,
) -> Outcome:
    """`python -m latentdreamer ARGS` in `cwd`; `signal_when=(sig, ready)` sends `sig` once
    `ready()` is true (polled), as a user pressing Ctrl+C or a scheduler killing the job."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [PY, "-m", "latentdreamer", *args],
        cwd=cwd,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=file_size_limit(fsize) if fsize else None,
    )
    if signal_when is not None:
        sig, ready = signal_when
        while proc.poll() is None and not ready() and time.monotonic() - start < timeout:
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return Outcome(proc.returncode, out, err, seconds=time.monotonic() - start)


class Worker(PipedProcess):
    """`python -m latentdreamer worker` on pipes, as the add-on starts it, in a clean
    environment (`clean_env`), optionally under a file size limit; `hello` is None when the
    worker did not start."""

    kinds = frozenset({"result", "cancelled", "error", "pong", "bye"})
    timeout = TIMEOUT_S

    def __init__(self, *args: str, env: dict[str, str] | None = None, fsize: int | None = None, cwd: Path | None = None) -> None:
        cmd = [PY, "-m", "latentdreamer", "worker", "--log-file", "", "--no-probe", *args]
        super().__init__(cmd, clean_env(env), cwd, file_size_limit(fsize) if fsize else None)
        first = self.next(60)
        self.hello = first if first and first.get("type") == "hello" else None


def generate_request(request_id: str, **fields) -> dict:
    settings = {"preset": "tiny", "device": "cpu", **fields.pop("settings", {})}
    return {"type": "generate", "id": request_id, **fields, "settings": settings}


# --- state afterwards ---------------------------------------------------------------------------


def debris(folder: Path) -> list[Path]:
    """Temporary files or folders a writer left anywhere under `folder`."""
    if not folder.exists():
        return []
    return [p for p in folder.rglob("*") if ".part" in p.name or p.name.startswith(".latentdreamer-write-test")]


def processes_mentioning(marker: str) -> list[str]:
    """Command lines of live processes that name `marker` (a case's own folder): what a run
    started and left behind (this test process itself excluded)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(f"{proc.name}: {cmdline}")
    return found


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# --- a small disk -------------------------------------------------------------------------------


@contextlib.contextmanager
def tmpfs_or_none(where: Path, size: str, read_only: bool = False) -> Iterator[Path | None]:
    """A tmpfs of `size` mounted at `where` while the block runs, or None where this process
    may not mount one (not root, a container without the capability)."""
    where.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0777" + (",ro" if read_only else "")
    if os.geteuid() != 0 or not shutil.which("mount"):
        yield None
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        yield None
        return
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


# --- bad inputs -------------------------------------------------------------------------------


def write_rgba(path: Path, rgba: np.ndarray) -> Path:
    Image.fromarray(np.asarray(rgba, dtype=np.uint8)).save(path)
    return path


def six(folder: Path, stem: str, make: Callable[[int], np.ndarray]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    return [str(write_rgba(folder / f"{stem}_{k}.png", make(k))) for k in range(6)]


def square_mask_view(size: int, margin: int) -> np.ndarray:
    """A grey view whose alpha covers all but a `margin`-pixel frame (the border stays clear)."""
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = 128
    rgba[margin : size - margin, margin : size - margin, 3] = 255
    return rgba


def corner_disk_view(size: int, k: int) -> np.ndarray:
    """A small disk near the left edge: seen from opposite cameras the silhouettes cannot meet."""
    yy, xx = np.mgrid[:size, :size]
    centre = (size * 0.5, size * 0.12)
    disk = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < (size * 0.07) ** 2
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[disk, 3] = 255
    return rgba


def huge_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A valid PNG header claiming `width` x `height` pixels (and almost no data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    )
    return path


def flip_byte(path: Path, offset: int = -100) -> Path:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def copy_weights(name: str, folder: Path, stem: str | None = None) -> Path:
    """A copy of a shipped weights file and its card under another name (the originals are never touched)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or name
    target = folder / f"{stem}.safetensors"
    shutil.copyfile(PACKAGE_WEIGHTS / f"{name}.safetensors", target)
    shutil.copyfile(PACKAGE_WEIGHTS / f"{name}.json", folder / f"{stem}.json")
    return target


def mixed_colour_glb(path: Path) -> Path:
    """Two primitives, one with vertex colours and one without, as in glTF sample models."""
    box = trimesh.creation.box(extents=(0.5, 0.5, 0.5))
    box.visual.vertex_colors = np.tile([220, 40, 40, 255], (len(box.vertices), 1))
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.25)
    ball.apply_translation([0.0, 0.0, 0.45])
    trimesh.Scene([box, ball]).export(path)
    return path


def textured_and_plain_glb(path: Path) -> Path:
    """A textured part next to a part whose material has only a base colour (CesiumMilkTruck's mix)."""
    box = trimesh.creation.box(extents=(0.6, 0.4, 0.4))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8))
    box.visual = trimesh.visual.TextureVisuals(uv=np.random.default_rng(1).random((len(box.vertices), 2)), image=image)
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.2)
    ball.apply_translation([0.0, 0.0, 0.35])
    ball.visual = trimesh.visual.TextureVisuals(material=trimesh.visual.material.PBRMaterial(baseColorFactor=[20, 20, 200, 255]))
    trimesh.Scene([box, ball]).export(path)
    return path


def degenerate_obj(path: Path) -> Path:
    """A closed sphere plus zero-area triangles (a repeated vertex, a collinear sliver), as scans have."""
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.4)
    v, f = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    a, b = f[0, 0], f[0, 1]
    faces = np.concatenate([f, [[a, a, b], [b, b, b], [a, b, a]]])
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v] + [f"f {i + 1} {j + 1} {k + 1}" for i, j, k in faces]
    path.write_text("\n".join(lines) + "\n")
    return path


def grid_of(files: Sequence[str], path: Path, tile: int | None = None) -> Path:
    """Six view files joined into one 2 x 3 grid (view k at row k // 2, column k % 2)."""
    images = [Image.open(f) for f in files]
    size = tile or images[0].width
    grid = Image.new(images[0].mode, (2 * size, 3 * size))
    for k, im in enumerate(images):
        grid.paste(im.resize((size, size)), ((k % 2) * size, (k // 2) * size))
    grid.save(path)
    return path


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def kill_quietly(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
