"""Where every evaluation's report goes, and how a missing mesh folder is recorded.

Each `eval` sub-command writes the same pair (`<stem>.json` with everything, `<stem>.md` with
the tables a person reads); one writer keeps their encoding identical, so scripts that read
one report read them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_report(out: Path, stem: str, report: dict[str, Any], markdown: Callable[[dict[str, Any]], str]) -> None:
    """`out/<stem>.json` and `out/<stem>.md`, each written atomically (an interrupted run
    leaves the earlier report whole); NumPy scalars are written as floats."""
    from latentdreamer.io.output_files import atomic_write

    text = json.dumps(report, indent=1, default=float) + "\n"
    atomic_write(out / f"{stem}.json", lambda tmp: tmp.write_text(text))
    page = markdown(report)
    atomic_write(out / f"{stem}.md", lambda tmp: tmp.write_text(page))


def eval_meshes_root(meshes: Path | None, report: dict[str, Any]) -> Path | None:
    """The mesh folder to score (default: the shared evaluation meshes), or None when it is
    missing; the report then says so, so a run without them is never mistaken for a full one."""
    from latentdreamer.io.eval_meshes import default_eval_root

    root = meshes or default_eval_root()
    if root.is_dir():
        return root
    report["meshes_skipped"] = f"{root} not found"
    print(f"evaluation meshes not found at {root}: skipped", flush=True)
    return None
