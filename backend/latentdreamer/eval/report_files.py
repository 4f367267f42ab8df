"""Where every evaluation's report goes.

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
