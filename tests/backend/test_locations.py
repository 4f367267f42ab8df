"""Locations: the environment read once, at the edge, and nowhere else in the library."""

from __future__ import annotations

import ast
from pathlib import Path

from latentdreamer.locations import ChosenFile, Locations

PACKAGE = Path(__file__).resolve().parents[2] / "backend" / "latentdreamer"

# Modules allowed to touch os.environ, and why.
EDGE = {
    "locations.py": "reads the environment into a Locations (called by the edges below)",
    "cli/main.py": "the CLI's edge: LATENTDREAMER_THREADS",
    "worker/__main__.py": "the worker's edge (`python -m latentdreamer.worker`): LATENTDREAMER_THREADS",
    "batch/ray_actors.py": "a Ray actor is the edge of its own process (thread settings)",
    "threads.py": "writes OpenMP/MKL settings for this process before torch loads (configure, not read)",
    "priors/segmentation.py": "rembg is configured only through U2NET_HOME: set, then restored, around one call",
}


def test_arguments_win_over_the_environment_which_wins_over_defaults(tmp_path):
    env = {
        "LATENTDREAMER_MODELS": str(tmp_path / "env-models"),
        "HF_HOME": str(tmp_path / "hf"),
        "U2NET_HOME": str(tmp_path / "u2"),
        "HF_HUB_OFFLINE": "yes",
        "LATENTDREAMER_PINS": str(tmp_path / "pins.json"),
        "LATENTDREAMER_SAE_WEIGHTS": str(tmp_path / "sae.safetensors"),
    }
    got = Locations.from_environment(env, models_dir=tmp_path / "arg-models", lin_weights=tmp_path / "lin.safetensors")
    assert got.models_dir == tmp_path / "arg-models"
    assert got.hub_cache == tmp_path / "hf" / "hub"  # HF_HOME/hub when HF_HUB_CACHE is unset
    assert (got.rembg_home, got.offline, got.pins_file) == (tmp_path / "u2", True, tmp_path / "pins.json")
    assert got.sae_weights == ChosenFile(tmp_path / "sae.safetensors", "env", "LATENTDREAMER_SAE_WEIGHTS")
    assert got.lin_weights == ChosenFile(tmp_path / "lin.safetensors", "argument")
    assert Locations.from_environment({**env, "HF_HUB_CACHE": str(tmp_path / "c")}).hub_cache == tmp_path / "c"
    assert Locations.from_environment(env).models_dir == tmp_path / "env-models"


def test_an_empty_environment_gives_the_home_defaults():
    got = Locations.from_environment({})
    assert got == Locations()
    assert got.hub_cache == Path.home() / ".cache" / "huggingface" / "hub" and not got.offline
    assert got.models_dir is None and got.sae_weights is None and got.pins_file is None


def _environ_uses(path: Path) -> list[int]:
    """Lines that touch `os.environ` or call `os.getenv`."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and getattr(node.value, "id", "") == "os":
            lines.append(node.lineno)
    return lines


def test_only_the_edges_touch_the_environment():
    found = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel not in EDGE and (uses := _environ_uses(path)):
            found[rel] = uses
    assert not found, f"read the setting into Locations at the edge and pass it down instead: {found}"
    assert all(_environ_uses(PACKAGE / rel) for rel in EDGE), "an EDGE entry no longer touches os.environ: remove it"
