"""The contract between the generation pipeline and whoever drives it (CLI, worker, tests).

Kept free of torch so the worker can describe jobs and events without importing the
heavy stack, and so every caller reports progress and cancels the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from latentdreamer.errors import SettingsError, check_seed
from latentdreamer.geometry.mesh import Mesh

PRESETS: tuple[str, ...] = ("tiny", "draft", "standard", "high")
"""`tiny` exists for tests and CI (seconds on a CPU); the other three are for users."""

TEXTURE_MODES: tuple[str, ...] = ("uv", "vertex")
""""uv": vertex colours plus a texture baked from the views (per-corner UVs and an image);
"vertex": vertex colours only. `texture=False` is geometry only."""
DEFAULT_TEXTURE = "uv"
"""What `texture=True` (the protocol's old boolean) means: the baked texture, measured better
than vertex colours in novel views (docs/evaluation.md, "UV texture")."""


@dataclass(frozen=True)
class GenerateSettings:
    """What a user may choose; everything else follows from the preset."""

    preset: str = "standard"
    device: str = "auto"
    seed: int = 0
    texture: bool | str = True
    """"uv", "vertex", or False; True means DEFAULT_TEXTURE and is stored as that mode."""
    preview_every: int = 10

    def __post_init__(self) -> None:
        """Every setting is checked here, once, for the CLI, the worker and the API alike, so
        a bad value fails before any work with the same message everywhere (SettingsError
        is a ValueError)."""
        if self.preset not in PRESETS:
            raise SettingsError(f"unknown preset {self.preset!r}", f"choose one of {', '.join(PRESETS)}")
        if self.device not in ("auto", "cpu", "cuda", "mps"):
            raise SettingsError(f"unknown device {self.device!r}", "choose auto, cpu, cuda or mps")
        check_seed(self.seed)
        if isinstance(self.preview_every, bool) or not isinstance(self.preview_every, int) or self.preview_every < 1:
            raise SettingsError(
                f"preview_every must be a whole number of steps, at least 1, got {self.preview_every!r}",
                "use a whole number such as 10",
            )
        if self.texture is True:
            object.__setattr__(self, "texture", DEFAULT_TEXTURE)
        elif self.texture is not False and self.texture not in TEXTURE_MODES:
            raise ValueError(f"unknown texture {self.texture!r}; choose {', '.join(TEXTURE_MODES)}, true or false")


@dataclass(frozen=True)
class Progress:
    """One progress report: `step` of `total` in `stage`, and the whole job's fraction done."""

    stage: str
    step: int
    total: int
    fraction: float
    eta_s: float | None = None
    message: str = ""


@dataclass(frozen=True)
class ViewSet:
    """The six prior views in camera order (docs/design.md §4), float arrays in [0, 1].

    rgb (6, H, W, 3); alpha (6, H, W) or None; normals (6, H, W, 3) in the camera-space
    encoding or None (masks-only mode).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    normals: np.ndarray | None = None


@dataclass
class Callbacks:
    """Hooks the pipeline calls between steps; all optional."""

    on_progress: Callable[[Progress], None] = lambda p: None
    on_preview: Callable[[Mesh, str], None] = lambda mesh, stage: None
    should_cancel: Callable[[], bool] = lambda: False


@dataclass
class GenerationResult:
    mesh: Mesh
    stats: dict[str, float | int | str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class Cancelled(Exception):
    """Raised between steps when `should_cancel()` turns true; carries the best mesh so far."""

    def __init__(self, best: Mesh | None, stage: str) -> None:
        super().__init__(f"cancelled during {stage}")
        self.best = best
        self.stage = stage
