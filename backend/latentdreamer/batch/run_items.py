"""Running a batch's items through the one job path, and the records and summary they leave."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from latentdreamer.batch.items import RECORD, BatchItem
from latentdreamer.locations import Locations


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
