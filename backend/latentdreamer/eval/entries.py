"""What every evaluation does with a folder of meshes: find its entries, run each one so that
a bad mesh becomes a failure row instead of ending the run, and summarise by kind.

`eval sae`, `eval lin` and `eval generate` share these, so one folder gives the same entries,
the same failure rows and the same per-kind means in all three reports.
"""

from __future__ import annotations

import statistics
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from latentdreamer.errors import UserFacingError
from latentdreamer.io.eval_meshes import EvalEntry, default_eval_root, find_eval_meshes

T = TypeVar("T")


def eval_entries(
    meshes: Path | None, report: dict[str, Any], up: str | None = None, kind: str | None = None
) -> list[EvalEntry] | None:
    """The entries to score (default folder: the shared evaluation meshes), or None when the
    folder is missing; the report then says so, so a run without them is never mistaken
    for a full one. A folder that exists but holds no mesh is an EvalFolderError."""
    root = meshes or default_eval_root()
    if not root.is_dir():
        report["meshes_skipped"] = f"{root} not found"
        print(f"evaluation meshes not found at {root}: skipped", flush=True)
        return None
    entries = find_eval_meshes(root, up, kind)
    report["mesh_entries"] = [e.as_dict() for e in entries]
    return entries


def describe_failure(exc: BaseException) -> str:
    """One line for a failure row: a user-facing error's message, else the type and text."""
    if isinstance(exc, UserFacingError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def attempt(entry: EvalEntry, work: Callable[[EvalEntry], T], failures: list[dict[str, Any]], log=print) -> T | None:
    """`work(entry)`, or None with a failure row appended when it raises (or the entry has a
    problem already): the row names the entry, its file and the error, and the run goes on.
    Errors that are not the file's fault keep their traceback in the row, for whoever
    debugs it; interrupts are not caught."""
    try:
        if entry.problem is not None:
            raise UserFacingError(entry.problem)
        return work(entry)
    except Exception as exc:
        row = {"name": entry.name, "path": str(entry.path) if entry.path else None, "error": describe_failure(exc)}
        if not isinstance(exc, UserFacingError):
            row["traceback"] = traceback.format_exc(limit=-4)
        failures.append(row)
        log(f"{entry.name}: failed: {row['error']}", flush=True)
        return None


def means(rows: Iterable[dict[str, Any]], keys: Iterable[str]) -> dict[str, float]:
    """Mean of each key over the rows that have a number for it (NaN-free), NaN when none."""
    rows = list(rows)
    out = {}
    for key in keys:
        values = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float)) and r[key] == r[key]]
        out[key] = statistics.fmean(values) if values else float("nan")
    return out


def means_by_kind(rows: list[dict[str, Any]], kinds: dict[str, str | None], keys: Iterable[str]) -> dict[str, Any]:
    """Means per kind (`thin`, `solid`) of the rows whose entry has one (`kinds`: name ->
    kind), with the count; empty when no entry says its kind."""
    keys = list(keys)
    out: dict[str, Any] = {}
    for kind in sorted({k for k in kinds.values() if k is not None}):
        mine = [r for r in rows if kinds.get(r["name"]) == kind]
        out[kind] = {"count": len(mine), **means(mine, keys)}
    return out


def failure_lines(failures: list[dict[str, Any]]) -> list[str]:
    """Markdown for the failure rows (nothing when there are none)."""
    if not failures:
        return []
    lines = ["", f"Failed ({len(failures)}): not in the means.", "", "| entry | error |", "|---|---|"]
    lines += [f"| {f['name']} | {f['error'].splitlines()[0].replace('|', '/')} |" for f in failures]
    return lines


def part_lines(
    title: str,
    part: dict[str, Any] | None,
    columns: list[tuple[str, str, str]],
    kinds: list[tuple[str, str, str]],
    per_object: bool,
) -> list[str]:
    """Markdown for one part of a report: a table of its objects (when `per_object`) and its
    mean, then its per-kind means and its failures; nothing for an empty part. `columns` and
    `kinds` are (key, header, format)."""
    if not part or not (part["count"] or part.get("failed")):
        return []
    lines = [
        f"## {title}: {part['count']} objects",
        "",
        "| object | " + " | ".join(h for _, h, _ in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    rows = part["objects"] if per_object else []
    for o in rows + ([{"name": "**mean**", **part["mean"]}] if part["mean"] else []):
        lines.append("| " + " | ".join([o["name"], *(format(o[k], f) for k, _, f in columns)]) + " |")
    return [*lines, *kind_lines(part.get("by_kind", {}), kinds), *failure_lines(part.get("failed", [])), ""]


def kind_lines(by_kind: dict[str, Any], columns: list[tuple[str, str, str]]) -> list[str]:
    """Markdown for the per-kind means: `columns` are (key, header, format)."""
    if not by_kind:
        return []
    lines = ["", "By kind (sidecar, else --kind):", "", "| kind | n | " + " | ".join(h for _, h, _ in columns) + " |"]
    lines.append("|---" * (len(columns) + 2) + "|")
    for kind, m in by_kind.items():
        lines.append(f"| {kind} | {m['count']} | " + " | ".join(format(m.get(k, float("nan")), f) for k, _, f in columns) + " |")
    return lines


def failed_entries(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every failure row of a report: its own (`eval generate`) and its parts' (`eval sae`, `eval lin`)."""
    rows = list(report.get("failed") or [])
    for part in report.values():
        if isinstance(part, dict):
            rows += part.get("failed") or []
    return rows


def exit_status(report: dict[str, Any]) -> int:
    """0 when every entry was scored; else 1, after saying which failed (as `batch` does): the
    report is complete for the others, and a script sees that something needs looking at."""
    import sys

    failed = failed_entries(report)
    if not failed:
        return 0
    names = ", ".join(f["name"] for f in failed[:5]) + (" ..." if len(failed) > 5 else "")
    print(
        f"error: {len(failed)} entr{'y' if len(failed) == 1 else 'ies'} could not be scored: {names}\n"
        "  hint: the report's Failed table says why for each; fix or remove those files and run again",
        file=sys.stderr,
    )
    return 1
