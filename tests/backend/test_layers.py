"""The backend's layers (docs/design.md §3): every import points down, and the add-on never
imports the backend. Adding an upward import fails here; so does fixing one of the known
ones without taking it off the list below (the list can only shrink)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "backend" / "latentdreamer"

# Lowest first. A top-level module or folder of the package belongs to exactly one layer.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "foundations",
        {"io", "geometry", "render", "metrics", "api", "device", "threads", "errors", "config", "locations", "__init__"},
    ),
    ("models", {"models", "weights"}),
    ("optimise", {"optimise"}),
    ("pipeline", {"pipeline", "priors"}),
    ("job", {"job"}),
    ("tools", {"train", "eval", "batch"}),
    ("application", {"cli", "worker", "__main__"}),
]

# Upward imports still to be removed (none today; an entry here must name its way out).
KNOWN_UPWARD: set[tuple[str, str]] = set()


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "latentdreamer":
        return None
    top = parts[1] if len(parts) > 1 else "__init__"
    for index, (_, members) in enumerate(LAYERS):
        if top in members:
            return index
    raise AssertionError(f"{module}: its top-level name {top!r} is in no layer; add it to LAYERS")


def imports(path: Path) -> set[str]:
    """Absolute imports of a file, including those inside functions (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def module_name(path: Path) -> str:
    return ".".join(("latentdreamer", *path.relative_to(PACKAGE).with_suffix("").parts))


def upward_imports() -> set[tuple[str, str]]:
    out = set()
    for path in PACKAGE.rglob("*.py"):
        me = module_name(path)
        mine = layer_of(me)
        for target in imports(path):
            theirs = layer_of(target)
            if theirs is not None and mine is not None and theirs > mine:
                out.add((me, target))
    return out


def test_every_import_points_down():
    found = upward_imports()
    new = sorted(found - KNOWN_UPWARD)
    assert not new, "imports from a higher layer (move the helper down instead):\n" + "\n".join(f"  {a} -> {b}" for a, b in new)
    fixed = sorted(KNOWN_UPWARD - found)
    assert not fixed, "no longer imported upward; take these off KNOWN_UPWARD:\n" + "\n".join(f"  {a} -> {b}" for a, b in fixed)


def test_the_add_on_never_imports_the_backend_or_torch():
    for path in (REPO / "latentdreamer_addon").rglob("*.py"):
        bad = {m for m in imports(path) if m.split(".")[0] in ("latentdreamer", "torch", "numba", "latentdreamer_addon")}
        assert not bad, (
            f"{path.relative_to(REPO)} imports {sorted(bad)} (the add-on talks to the backend as a process, "
            "and imports itself relatively so it works installed as bl_ext.<repo>.latentdreamer)"
        )


def test_the_layer_test_sees_a_planted_upward_import(tmp_path, monkeypatch):
    """The check itself can fail: a geometry module importing the pipeline is caught."""
    fake = tmp_path / "latentdreamer"
    (fake / "geometry").mkdir(parents=True)
    (fake / "geometry" / "bad.py").write_text("from latentdreamer.pipeline.generate import generate_from_views\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert upward_imports() == {("latentdreamer.geometry.bad", "latentdreamer.pipeline.generate")}
