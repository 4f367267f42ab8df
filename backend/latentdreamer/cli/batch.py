"""`latentdreamer batch`: many generate jobs, resumable, on this machine or spread by Ray.

    batch FOLDER_OF_IMAGES --out DIR              one item per image
    batch FOLDER_OF_VIEW_SETS --out DIR           one item per sub-folder (a grid image, or
                                                  six rgb_k files, with optional normal maps)
    batch MANIFEST.csv|MANIFEST.jsonl --out DIR   one item per row, with per-item settings
    batch ... --ray auto|ADDRESS                  Ray actors, each holding the models warm

Each item runs the one job path (`latentdreamer.job`) and writes `DIR/<name>/`: the mesh,
its views and `record.json` (inputs, settings, their hash, timings, stats or the error).
An item whose inputs and settings hash to a finished record is skipped, so an interrupted
batch is resumed by running the same command again. `DIR/summary.json` and `summary.md`
list every item; the exit code is 1 when any item failed. Ray is an optional extra
(`pip install 'latentdreamer[farm]'`): the scheduling is Ray's, not ours.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentdreamer.api import PRESETS
from latentdreamer.locations import Locations

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MANIFEST_SUFFIXES = (".csv", ".jsonl")
SETTING_KEYS = ("preset", "device", "seed", "texture")
INPUT_KEYS = ("image", "prompt", "views", "view_files", "normals", "normal_files", "mesh")
RECORD = "record.json"


@dataclass(frozen=True)
class BatchItem:
    """One job of a batch: a name (its output folder), its inputs and its settings."""

    name: str
    inputs: dict[str, Any]
    """JobInputs fields as plain JSON values (paths as strings), so an item can be sent to a
    Ray actor or written to a manifest as it is."""
    settings: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        """SHA-256 of the settings and of every input file's bytes (a prompt's text): the same
        key means the same result, so a finished item can be skipped."""
        digest = hashlib.sha256(json.dumps({"settings": self.settings, "inputs": self.inputs}, sort_keys=True).encode())
        for path in _input_files(self.inputs):
            try:
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
            except OSError as exc:  # the job itself reports the unreadable file; the key only must differ
                digest.update(f"unreadable {path}: {exc.errno}".encode())
        return digest.hexdigest()


def _input_files(inputs: dict[str, Any]) -> list[str]:
    files = []
    for key in ("image", "views", "normals", "mesh"):
        if isinstance(inputs.get(key), str):
            files.append(inputs[key])
    for key in ("view_files", "normal_files"):
        files += list(inputs.get(key) or [])
    return files


class BatchInputError(ValueError):
    """The batch's inputs cannot be read; the message says which and why."""


def _view_set(folder: Path) -> dict[str, Any] | None:
    """A folder holding one view set: a grid image (+ a normals grid), or six rgb_k files
    (+ six normal_k files); None when it holds neither."""
    rgb = sorted(folder.glob("rgb_[0-5].png"))
    if len(rgb) == 6:
        normals = sorted(folder.glob("normal_[0-5].png"))
        return {"view_files": [str(p) for p in rgb], **({"normal_files": [str(p) for p in normals]} if len(normals) == 6 else {})}
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    grids = [p for p in images if "normal" not in p.name.lower()]
    normal_grids = [p for p in images if "normal" in p.name.lower()]
    if len(grids) == 1:
        return {"views": str(grids[0]), **({"normals": str(normal_grids[0])} if len(normal_grids) == 1 else {})}
    return None


def _manifest_rows(path: Path) -> list[dict[str, Any]]:
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8") as f:
                return [{k: v for k, v in row.items() if k and v not in (None, "")} for row in csv.DictReader(f)]
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise BatchInputError(f"{path}, line {number}: each line must be a JSON object")
                rows.append(row)
        return rows
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise BatchInputError(f"cannot read the manifest {path}: {exc}") from None


def _item_from_row(row: dict[str, Any], base: Path, number: int, defaults: dict[str, Any]) -> BatchItem:
    unknown = sorted(set(row) - set(INPUT_KEYS) - set(SETTING_KEYS) - {"name"})
    if unknown:
        raise BatchInputError(
            f"manifest row {number}: unknown column(s) {', '.join(unknown)}; "
            f"use name, {', '.join(INPUT_KEYS)}, {', '.join(SETTING_KEYS)}"
        )
    inputs: dict[str, Any] = {}
    for key in INPUT_KEYS:
        value = row.get(key)
        if value is None:
            continue
        if key == "prompt":
            inputs[key] = str(value)
        elif key in ("view_files", "normal_files"):
            parts = value if isinstance(value, list) else str(value).split(";")
            inputs[key] = [str((base / p).resolve()) for p in parts]
        else:
            inputs[key] = str((base / str(value)).resolve())
    settings = dict(defaults)
    for key in SETTING_KEYS:
        if key in row:
            value = row[key]
            if key == "seed":
                value = int(value)
            elif key == "texture" and isinstance(value, str):
                value = value.strip().lower() not in ("0", "false", "no", "off")
            settings[key] = value
    first = inputs.get("image") or inputs.get("views") or inputs.get("mesh") or (inputs.get("view_files") or [""])[0]
    name = str(row.get("name") or (Path(first).stem if first else f"item{number}"))
    return BatchItem(name, inputs, settings)


def collect_items(source: Path, defaults: dict[str, Any]) -> list[BatchItem]:
    """The batch's items from a folder of images, a folder of view sets, or a manifest."""
    if source.is_file() and source.suffix.lower() in MANIFEST_SUFFIXES:
        rows = _manifest_rows(source)
        items = [_item_from_row(row, source.parent, i + 1, defaults) for i, row in enumerate(rows)]
    elif source.is_dir():
        items = []
        for entry in sorted(source.iterdir()):
            if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
                items.append(BatchItem(entry.stem, {"image": str(entry.resolve())}, dict(defaults)))
            elif entry.is_dir():
                views = _view_set(entry)
                if views is not None:
                    items.append(BatchItem(entry.name, {k: _resolved(v) for k, v in views.items()}, dict(defaults)))
    else:
        raise BatchInputError(f"{source} is neither a folder nor a .csv/.jsonl manifest")
    if not items:
        raise BatchInputError(f"{source} holds no images, view sets or manifest rows")
    names = [item.name for item in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BatchInputError(f"several items are named {', '.join(duplicates)}; give them distinct names (a 'name' column)")
    return items


def _resolved(value: Any) -> Any:
    return [str(Path(v).resolve()) for v in value] if isinstance(value, list) else str(Path(value).resolve())


def finished(item: BatchItem, out: Path, fmt: str) -> bool:
    """True when `out/<name>` holds a successful record of exactly this item and its mesh."""
    folder = out / item.name
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return False
    return record.get("status") == "done" and record.get("key") == item.key() and (folder / f"{item.name}.{fmt}").is_file()


def run_item(item: BatchItem, out: Path, fmt: str, models) -> dict[str, Any]:
    """Run one item through the job path and write its folder; returns its record (never raises
    for a problem of the item itself: that is the record's error)."""
    from latentdreamer.api import GenerateSettings
    from latentdreamer.errors import UserFacingError
    from latentdreamer.io.mesh_io import save_mesh
    from latentdreamer.io.output_files import StagedFolder, atomic_write
    from latentdreamer.job import JobInputs, run_job

    folder = out / item.name
    folder.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "name": item.name,
        "inputs": item.inputs,
        "settings": item.settings,
        "key": item.key(),
        "host": os.uname().nodename if hasattr(os, "uname") else "",
        "pid": os.getpid(),
    }
    start = time.perf_counter()
    try:
        i = item.inputs
        paths = lambda key: tuple(Path(p) for p in i[key]) if i.get(key) else None
        inputs = JobInputs(
            image=Path(i["image"]) if i.get("image") else None,
            prompt=i.get("prompt"),
            view_grid=Path(i["views"]) if i.get("views") else None,
            view_files=paths("view_files"),
            normal_grid=Path(i["normals"]) if i.get("normals") else None,
            normal_files=paths("normal_files"),
            mesh=Path(i["mesh"]) if i.get("mesh") else None,
        )
        settings = GenerateSettings(**item.settings)
        done = run_job(inputs, settings, folder / "views", models=models)
        target = folder / f"{item.name}.{fmt}"
        with StagedFolder(folder) as stage:  # an OBJ comes with its MTL and texture: all or nothing
            save_mesh(done.result.mesh, stage.path / target.name, fmt)
            stage.publish(last=target.name)
        record.update(status="done", mesh=str(target), stats=done.result.stats, timings=done.result.timings, notes=done.notes)
    except (UserFacingError, ValueError, OSError) as exc:
        message = exc.message if isinstance(exc, UserFacingError) else str(exc)
        hint = exc.hint if isinstance(exc, UserFacingError) else ""
        record.update(status="failed", error=message, hint=hint, error_type=type(exc).__name__)
    except Exception as exc:  # a bug of ours in one item must not end the batch; its record says so
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            hint="a backend bug: please report it",
            error_type=type(exc).__name__,
        )
    record["seconds"] = round(time.perf_counter() - start, 3)
    text = json.dumps(record, indent=1, default=str)
    try:  # the record is what makes an item "finished": never half of one
        atomic_write(folder / RECORD, lambda tmp: tmp.write_text(text))
    except (OSError, UserFacingError) as exc:  # disk full, folder removed: the item's failure
        record.update(status="failed", error=f"its record could not be written: {exc}")
    return record


def run_local(items: list[BatchItem], out: Path, fmt: str, locations: Locations, quiet: bool) -> list[dict[str, Any]]:
    """Every item on this machine, one after another on one warm set of models."""
    from tqdm import tqdm

    from latentdreamer.job import Models

    models = Models(locations)
    records = []
    with tqdm(items, desc="batch", unit="item", disable=quiet, file=sys.stderr) as bar:
        for item in bar:
            bar.set_postfix_str(item.name)
            records.append(run_item(item, out, fmt, models))
    return records


def write_summary(records: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """`summary.json` (every record) and `summary.md` (one table row per item)."""
    out.mkdir(parents=True, exist_ok=True)
    from latentdreamer.io.output_files import atomic_write

    text = json.dumps(records, indent=1, default=str)
    summary_json = atomic_write(out / "summary.json", lambda tmp: tmp.write_text(text))
    lines = ["| item | status | seconds | faces | error |", "|---|---|---:|---:|---|"]
    for r in records:
        faces = (r.get("stats") or {}).get("triangles", "")
        error = str(r.get("error", "")).replace("|", "/")[:160]
        lines.append(f"| {r['name']} | {r['status']} | {r.get('seconds', '')} | {faces} | {error} |")
    done = sum(r["status"] in ("done", "skipped") for r in records)
    lines += [
        "",
        f"{done} of {len(records)} items done ({sum(r['status'] == 'skipped' for r in records)} skipped as "
        f"already finished), {sum(r['status'] == 'failed' for r in records)} failed.",
    ]
    page = "\n".join(lines) + "\n"
    summary_md = atomic_write(out / "summary.md", lambda tmp: tmp.write_text(page))
    return summary_json, summary_md


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", type=Path, help="a folder of images, a folder of view-set folders, or a .csv/.jsonl manifest")
    parser.add_argument("--out", type=Path, required=True, help="output folder (one sub-folder per item)")
    parser.add_argument(
        "--preset",
        default="standard",
        help=f"quality preset: {', '.join(PRESETS)} (tiny is for tests) (a manifest may set it per item)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-texture", action="store_true", help="geometry only")
    parser.add_argument("--format", default="glb", choices=("glb", "ply", "obj"), help="mesh file format")
    parser.add_argument("--models-dir", default=None, help="local model folder (default: LATENTDREAMER_MODELS)")
    parser.add_argument("--force", action="store_true", help="run every item, also those already finished")
    parser.add_argument(
        "--ray",
        metavar="auto|ADDRESS",
        default=None,
        help="spread items over Ray actors: 'auto' (a local Ray, or RAY_ADDRESS) or a cluster address",
    )
    parser.add_argument(
        "--actors", type=int, default=None, help="Ray actors (default: one per GPU, else one per --cpus-per-actor cores)"
    )
    parser.add_argument("--cpus-per-actor", type=int, default=2, help="cores each CPU actor reserves")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    defaults = {"preset": args.preset, "device": args.device, "seed": args.seed, "texture": not args.no_texture}
    locations = Locations.from_environment(models_dir=args.models_dir)  # the environment, read once here
    try:
        from latentdreamer.api import GenerateSettings

        GenerateSettings(**defaults)  # a bad preset or device fails here, not once per item
        items = collect_items(args.inputs, defaults)
        args.out.mkdir(parents=True, exist_ok=True)
        probe = args.out / ".latentdreamer-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except (BatchInputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write to {args.out}: {exc}\n  hint: choose a folder you can write", file=sys.stderr)
        return 2
    skipped = [] if args.force else [item for item in items if finished(item, args.out, args.format)]
    todo = [item for item in items if item not in skipped]
    print(f"{len(items)} items: {len(skipped)} already finished, {len(todo)} to run", file=sys.stderr)
    try:
        if args.ray is None:
            records = run_local(todo, args.out, args.format, locations, args.quiet)
        else:
            from latentdreamer.cli.batch_ray import RayUnavailable, run_ray

            # Each actor reads its own machine's environment; the models folder chosen here goes with it.
            models_dir = str(locations.models_dir) if locations.models_dir else None
            try:
                records = run_ray(todo, args.out, args.format, models_dir, args.ray, args.actors, args.cpus_per_actor, args.quiet)
            except RayUnavailable as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished items are kept; run the same command again to resume", file=sys.stderr)
        return 130
    by_name = {r["name"]: r for r in records}
    for item in skipped:
        by_name[item.name] = {"name": item.name, "status": "skipped", "settings": item.settings, "key": item.key()}
    ordered = [by_name[item.name] for item in items if item.name in by_name]
    summary_json, summary_md = write_summary(ordered, args.out)
    failed = [r for r in ordered if r["status"] == "failed"]
    for r in failed:
        print(f"failed: {r['name']}: {r.get('error')}" + (f"\n  hint: {r['hint']}" if r.get("hint") else ""), file=sys.stderr)
    print(f"summary: {summary_md}", file=sys.stderr)
    print(summary_json)
    return 1 if failed else 0
