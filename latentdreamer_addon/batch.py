"""Blocking API for scripts, the Python console and `blender -b --python`.

    from bl_ext.user_default.latentdreamer import batch      # installed extension
    objs = batch.generate_images(["/renders/chair.png", "/renders/lamp.png"], preset="draft")
    objs = batch.generate_images("/renders/", save_blend_dir="/out/")   # a folder, one .blend each
    objs = batch.generate_images([{"views": {"grid": "/v/mug.png"}, "normals": {"grid": "/v/mug_n.png"}}])
                                                                    # your own six views (no diffusion)

Jobs run one after another on the same warm worker the panel uses (its Backend Python,
Worker Options and Models Folder; a running panel job is never killed), each result into
its own object (side by side along X), with progress printed. The loop pumps the same
`Session` the modal operator's timer pumps, so there is one code path from worker event to
mesh.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import bpy

from . import progress_text, session
from .atomic_files import write_atomically
from .mesh_import import ImportOptions

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


class BatchError(RuntimeError):
    """Some images failed; `objects` holds the ones that worked, `failures` (path, message)."""

    def __init__(self, objects: list, failures: list[tuple[str, str]]) -> None:
        lines = "\n".join(f"  {path}: {message}" for path, message in failures)
        super().__init__(f"{len(failures)} image(s) failed:\n{lines}")
        self.objects = objects
        self.failures = failures


def image_paths(images: str | Path | Iterable[str | Path | dict]) -> list[Path | dict]:
    """A folder (its images, sorted by name), one path, or a list of paths and input dicts."""
    if isinstance(images, (str, Path)):
        images = [images]
    out: list[Path | dict] = []
    for item in images:
        if isinstance(item, dict):
            out.append(item)
            continue
        path = Path(item).expanduser()
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(path)
    return out


def _writable_folder(folder: Path) -> None:
    """Make `folder` and prove it takes a file, before any job runs (raises OSError)."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / ".latentdreamer-write-test"
    probe.write_bytes(b"")
    probe.unlink()


def _drop_object(job: session.Job) -> None:
    """Remove what an unfinished item left in the scene (a preview or a partial mesh)."""
    obj = job.object
    if obj is not None:
        mesh = obj.data
        bpy.data.objects.remove(obj)
        if mesh is not None and mesh.users == 0:
            bpy.data.meshes.remove(mesh)
    job.object_name = ""


def _request(item: Path | dict) -> tuple[dict, str]:
    """(the generate request's inputs, the object's name) for one batch item."""
    if isinstance(item, Path):
        return {"image": str(item)}, item.stem
    inputs = {k: v for k, v in item.items() if k in ("image", "views", "normals")}
    first = inputs.get("image") or next(iter((inputs.get("views") or {}).values()), "views")
    name = item.get("name") or Path(first if isinstance(first, str) else first[0]).stem
    return inputs, name


def generate_images(
    images: str | Path | Iterable[str | Path | dict],
    *,
    preset: str = "standard",
    device: str = "auto",
    seed: int = 0,
    texture: bool = True,
    target_size: float = 1.0,
    face_budget: int = 0,
    remesh_voxel_size: float = 0.0,
    spacing: float = 1.5,
    save_blend_dir: str | Path | None = None,
    python: str | None = None,
    worker_args: str = "",
    skip_errors: bool = False,
    timeout_s: float | None = None,
) -> list[bpy.types.Object]:
    """Generate one object per image and return them; blocks until all are done.

    An item may also be a dict of request inputs, e.g. {"views": {"grid": path}, "normals":
    {"grid": path}, "name": "mug"} for your own six views (docs/protocol.md).

    Failures raise `BatchError` at the end (after the other images ran), unless
    `skip_errors`; an item that runs past `timeout_s` is cancelled, leaves nothing in the
    scene and counts as failed. `save_blend_dir` also writes each object to
    `<dir>/<name>.blend` (a folder that cannot be written is a `BatchError` before any job).
    `python` overrides the preferences' Backend Python; `worker_args` adds worker options.
    """
    from . import operators

    paths = image_paths(images)
    if not paths:
        raise ValueError(f"no images found in {images!r}")
    if save_blend_dir is not None:
        try:
            _writable_folder(Path(save_blend_dir))
        except OSError as exc:
            raise BatchError([], [(str(save_blend_dir), f"cannot write .blend files there: {exc}")]) from None
    try:
        sess = operators.worker_session(python=python, extra_args=worker_args)
    except RuntimeError as exc:  # no backend, or the panel's job runs with another set-up
        raise BatchError([], [("backend", str(exc))]) from None
    options = ImportOptions(target_size=target_size, face_budget=face_budget, remesh_voxel_size=remesh_voxel_size)
    settings = {"preset": preset, "device": device, "seed": seed, "texture": texture}
    objects, failures = [], []
    for i, item in enumerate(paths):
        inputs, name = _request(item)
        path = item if isinstance(item, Path) else name
        print(f"[LatentDreamer] {i + 1}/{len(paths)} {path}", flush=True)
        try:
            job = sess.start(inputs, name, settings, location=(i * spacing, 0.0, 0.0), options=options, live_preview=False)
        except RuntimeError as exc:  # the worker could not start
            failures.append((str(path), str(exc)))
            continue
        timed_out = _wait(sess, job, timeout_s)
        if job.state == "done" and job.object is not None and not timed_out:
            objects.append(job.object)
            print(f"[LatentDreamer]   done: {job.object.name} ({job.stats_text()})", flush=True)
            if save_blend_dir is not None:
                try:
                    _save_blend(job.object, Path(save_blend_dir))
                except OSError as exc:  # the object stays in the scene; the batch goes on
                    failures.append((str(path), f"generated, but its .blend could not be written: {exc}"))
        else:
            _drop_object(job)
            reason = f"timed out after {timeout_s:g} s" if timed_out else (job.report_text() or job.message)
            failures.append((str(path), reason))
            print(f"[LatentDreamer]   failed: {failures[-1][1]}", flush=True)
    sess.forget_finished()
    if failures and not skip_errors:
        raise BatchError(objects, failures)
    return objects


def _wait(sess: session.Session, job: session.Job, timeout_s: float | None) -> bool:
    """Pump until the job ends; True when it ran past `timeout_s` (it was then cancelled)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    last = ""
    timed_out = False
    while not job.finished:
        sess.pump()
        label = progress_text.stage_label(job.stage)
        line = f"{label} {job.step}/{job.total} {job.fraction:.0%}" if label else ""
        if line and line != last:
            eta = f", {progress_text.eta_text(job.eta_s)}" if job.eta_s is not None else ""
            print(f"[LatentDreamer]   {line}{eta}", flush=True)
            last = line
        if deadline is not None and time.monotonic() > deadline:
            sess.cancel(job)
            timed_out, deadline = True, None  # wait for the worker's `cancelled`
        time.sleep(0.05)
    return timed_out


def _save_blend(obj: bpy.types.Object, folder: Path) -> Path:
    """Write just this object (with its mesh and material) to its own .blend."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bpy.path.clean_name(obj.name)}.blend"
    return write_atomically(path, lambda tmp: bpy.data.libraries.write(str(tmp), {obj}, fake_user=True))


@dataclass
class FarmJob:
    """A `latentdreamer batch` run started from Blender; it goes on if Blender closes."""

    process: subprocess.Popen
    manifest: Path
    out_dir: Path
    log: Path

    @property
    def summary(self) -> Path:
        """`summary.md` of the batch (written when it ends; every item has `record.json`)."""
        return self.out_dir / "summary.md"

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Block until the batch ends; its exit code (0: every item done, 1: some failed)."""
        return self.process.wait(timeout)


def _manifest_row(item: Path | dict) -> dict:
    """A `generate_images` item as a row of the backend's batch manifest."""
    inputs, name = _request(item)
    row: dict = {"name": name}
    if "image" in inputs:
        row["image"] = str(Path(inputs["image"]).expanduser().resolve())
    for key, files_key in (("views", "view_files"), ("normals", "normal_files")):
        source = inputs.get(key)
        if isinstance(source, dict) and "grid" in source:
            row[key] = str(Path(source["grid"]).expanduser().resolve())
        elif isinstance(source, dict) and "files" in source:
            row[files_key] = [str(Path(f).expanduser().resolve()) for f in source["files"]]
    return row


def submit_to_farm(
    images: str | Path | Iterable[str | Path | dict],
    out_dir: str | Path,
    *,
    preset: str = "standard",
    seed: int = 0,
    texture: bool = True,
    ray: str | None = None,
    python: str | None = None,
) -> FarmJob:
    """Hand the items to the backend's own batch command (`latentdreamer batch`) and return at once.

    The same items `generate_images` takes; they are written as a manifest into `out_dir`
    and run by the panel's backend Python (or `python`) in the background: resumable,
    one folder and record per item, `summary.md` at the end. With `ray="auto"` or a Ray
    address the items are spread over a cluster (the backend's `farm` extra; `out_dir` must
    be storage the nodes share). Meshes land in `out_dir`, not in this scene.
    """
    from . import preferences

    paths = image_paths(images)
    if not paths:
        raise ValueError(f"no images found in {images!r}")
    py = python or preferences.worker_python()
    if not py or not Path(py).is_file():
        raise BatchError(
            [],
            [
                (
                    "backend",
                    "a farm job needs the backend's Python interpreter (Install Backend, or "
                    "set Backend Python to a Python file; a remote worker command cannot run it)",
                )
            ],
        )
    out = Path(out_dir).expanduser().resolve()
    try:
        _writable_folder(out)
        manifest = out / "manifest.jsonl"
        text = "".join(json.dumps(_manifest_row(item)) + "\n" for item in paths)
        write_atomically(manifest, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise BatchError([], [(str(out), f"cannot write the manifest there: {exc}")]) from None
    command = [
        py,
        "-m",
        "latentdreamer",
        "batch",
        str(manifest),
        "--out",
        str(out),
        "--preset",
        preset,
        "--seed",
        str(seed),
        "--quiet",
        *([] if texture else ["--no-texture"]),
        *(["--ray", ray] if ray else []),
    ]
    log = out / "batch.log"
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    print(
        f"[LatentDreamer] farm job started (pid {process.pid}): {' '.join(command)}\n"
        f"[LatentDreamer]   log {log}; summary {out / 'summary.md'} when it ends",
        flush=True,
    )
    return FarmJob(process, manifest, out, log)
