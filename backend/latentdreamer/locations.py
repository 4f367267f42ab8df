"""Where this process finds models, caches and its own weights: one value, built at the edge.

The CLI, the worker and each batch actor build a `Locations` once, from their arguments and
the environment (`Locations.from_environment`), and pass it down; nothing below them reads
the environment for these settings. That keeps a job's inputs in its arguments (a test or a
farm actor can run two jobs with different folders in one process) and makes every place a
setting comes from visible in one file.

Environment variables, with the argument that wins over each:
  LATENTDREAMER_MODELS         --models-dir: one sub-folder per prior model (diffusers layout)
  HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub
  U2NET_HOME                   where rembg keeps u2net (default ~/.u2net)
  HF_HUB_OFFLINE               no network for `weights download`
  LATENTDREAMER_PINS           a mirror's pins (JSON; see priors/model_store.py)
  LATENTDREAMER_SAE_WEIGHTS    --sae: the SAE weights file or training-run folder
  LATENTDREAMER_LIN_WEIGHTS    --lin: the same for the LIN
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_MODELS = "LATENTDREAMER_MODELS"
ENV_PINS = "LATENTDREAMER_PINS"
ENV_SAE = "LATENTDREAMER_SAE_WEIGHTS"
ENV_LIN = "LATENTDREAMER_LIN_WEIGHTS"
TRUE_WORDS = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ChosenFile:
    """A weights path someone chose, and how, so an error can say what to change."""

    path: Path
    origin: str
    """'argument' (given to the command or the call) or 'env' (its environment variable)."""
    variable: str = ""
    """The environment variable it came from, when `origin` is 'env'."""


def _home_cache() -> Path:
    return Path.home() / ".cache" / "huggingface" / "hub"


def _home_rembg() -> Path:
    return Path.home() / ".u2net"


@dataclass(frozen=True)
class Locations:
    """The folders and files a job reads models from. Defaults: the user's home, no overrides."""

    models_dir: Path | None = None
    hub_cache: Path = field(default_factory=_home_cache)
    rembg_home: Path = field(default_factory=_home_rembg)
    offline: bool = False
    pins_file: Path | None = None
    sae_weights: ChosenFile | None = None
    lin_weights: ChosenFile | None = None

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        models_dir: str | os.PathLike | None = None,
        sae_weights: str | os.PathLike | None = None,
        lin_weights: str | os.PathLike | None = None,
    ) -> Locations:
        """Arguments first, then the environment (`os.environ` unless given), then defaults."""
        env = os.environ if environ is None else environ

        def path(value: str | os.PathLike | None) -> Path | None:
            return Path(value).expanduser() if value else None

        def chosen(given: str | os.PathLike | None, variable: str) -> ChosenFile | None:
            if given:
                return ChosenFile(Path(given).expanduser(), "argument")
            if env.get(variable):
                return ChosenFile(Path(env[variable]).expanduser(), "env", variable)
            return None

        if env.get("HF_HUB_CACHE"):
            hub_cache = Path(env["HF_HUB_CACHE"]).expanduser()
        elif env.get("HF_HOME"):
            hub_cache = Path(env["HF_HOME"]).expanduser() / "hub"
        elif env.get("XDG_CACHE_HOME"):
            hub_cache = Path(env["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "hub"
        else:
            hub_cache = _home_cache()
        return cls(
            models_dir=path(models_dir) or path(env.get(ENV_MODELS)),
            hub_cache=hub_cache,
            rembg_home=path(env.get("U2NET_HOME")) or _home_rembg(),
            offline=env.get("HF_HUB_OFFLINE", "").strip().lower() in TRUE_WORDS,
            pins_file=path(env.get(ENV_PINS)),
            sae_weights=chosen(sae_weights, ENV_SAE),
            lin_weights=chosen(lin_weights, ENV_LIN),
        )
