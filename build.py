#!/usr/bin/env python3
"""Build the installable extension: dist/latentdreamer-<version>.zip plus a static repository index.

Layout of the zip (Blender wants the manifest beside the add-on's `__init__.py`):

    blender_manifest.toml     from the repository root
    __init__.py, ...          the contents of latentdreamer_addon/
    backend_src/              the backend package source (pyproject.toml + latentdreamer/ +
                              README.md), which "Install Backend" pip-installs into a private venv
    README.md                 the user guide
    wheels/*.whl              wheels for Blender's side, listed in the manifest (none today)

The archive is reproducible: entries sorted, fixed timestamps and permissions, fixed
compression level; the same sources give the same bytes. It is checked with Blender's own
validator (`blender_ext.py validate`), and `blender_ext.py server-generate` writes the
`index.json`/`index.html` a studio can host as a static extension repository.

Usage: python build.py [--dist DIR] [--blender-ext PATH] [--no-validate] [--no-index]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ADDON = ROOT / "latentdreamer_addon"
BACKEND = ROOT / "backend"
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".git"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".part"}


def manifest() -> dict:
    with open(ROOT / "blender_manifest.toml", "rb") as fh:
        return tomllib.load(fh)


def _files(folder: Path) -> list[Path]:
    out = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in SKIP_SUFFIXES:
            out.append(path)
    return out


def bundled_pyproject() -> Path:
    """The backend's pyproject.toml, which must not point outside backend/.

    setuptools refuses files outside the project folder when it builds from the unpacked
    extension, so a `../` reference would break "Install Backend" on the artist's machine.
    """
    path = BACKEND / "pyproject.toml"
    if "../" in path.read_text(encoding="utf-8").split("[project.optional-dependencies]")[0]:
        raise SystemExit("backend/pyproject.toml refers to files outside backend/; build.py cannot bundle it")
    return path


def entries() -> dict[str, Path]:
    """Archive name -> source file (or contents), for everything the extension ships."""
    found: dict[str, Path] = {
        "blender_manifest.toml": ROOT / "blender_manifest.toml",
        "README.md": ROOT / "README.md",
        "backend_src/README.md": BACKEND / "README.md",
        "backend_src/pyproject.toml": bundled_pyproject(),
    }
    for path in _files(ADDON):
        found[path.relative_to(ADDON).as_posix()] = path
    for path in _files(BACKEND / "latentdreamer"):
        found["backend_src/latentdreamer/" + path.relative_to(BACKEND / "latentdreamer").as_posix()] = path
    for wheel in manifest().get("wheels", []):
        found[wheel] = ROOT / wheel
    return found


def write_zip(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, source in sorted(entries().items()):
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, whatever machine builds it
            data = source.read_bytes()
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    tmp.replace(target)
    return target


def find_blender_ext() -> Path | None:
    """Blender's extension tool: from the bpy module of the Python running this (a Blender
    test environment), else from one of the repository's Blender environments."""
    import importlib.util

    pattern = "*/scripts/addons_core/bl_pkg/cli/blender_ext.py"
    spec = importlib.util.find_spec("bpy")
    folders = [Path(spec.origin).parent] if spec is not None and spec.origin else []
    folders += sorted(p for venv in sorted(ROOT.glob(".venv-blender*")) for p in venv.glob("lib/python3*/site-packages/bpy"))
    for folder in folders:
        for path in sorted(folder.glob(pattern)):
            return path
    return None


def run_blender_ext(tool: Path, *args: str) -> str:
    """The tool is stdlib-only Python; any Python >= 3.11 runs it."""
    proc = subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"blender_ext {args[0]} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--blender-ext", type=Path, default=None, help="path to Blender's blender_ext.py")
    parser.add_argument("--no-validate", action="store_true")
    parser.add_argument("--no-index", action="store_true")
    args = parser.parse_args(argv)

    meta = manifest()
    target = write_zip(args.dist / f"{meta['id']}-{meta['version']}.zip")
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    print(f"{target}  {target.stat().st_size} bytes  sha256 {digest}")
    if args.no_validate and args.no_index:
        return 0
    tool = args.blender_ext or find_blender_ext()
    if tool is None:
        raise SystemExit("Blender's blender_ext.py not found (set up .venv-blender or pass --blender-ext)")
    if not args.no_validate:
        print(run_blender_ext(tool, "validate", str(target)).strip())
    if not args.no_index:
        run_blender_ext(tool, "server-generate", "--repo-dir", str(args.dist), "--html")
        print(f"repository index: {args.dist / 'index.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
