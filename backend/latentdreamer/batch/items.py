"""A batch's items: what `latentdreamer batch` reads from a folder or a manifest, and when an
item counts as finished (its record's key matches), which is what makes a batch resumable."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
