"""One image in, six saved views out: the part of `generate IMAGE` before the pipeline."""

from __future__ import annotations

from pathlib import Path

from latentdreamer.api import Callbacks, GenerateSettings, ViewSet
from latentdreamer.locations import Locations
from latentdreamer.priors.provider import PriorViews, Zero123PlusProvider


def save_prior_views(result: PriorViews, folder: str | Path) -> dict[str, object]:
    """The condition image, both grids and the six RGBA / normal views as PNGs."""
    from latentdreamer.io.images import write_png
    from latentdreamer.io.view_files import save_views

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, object] = {
        "condition": str(write_png(folder / "condition.png", result.condition.rgba)),
        "colour_grid": str(write_png(folder / "views_grid.png", result.colour_grid)),
    }
    if result.normal_grid is not None:
        paths["normal_grid"] = str(write_png(folder / "normals_grid.png", result.normal_grid))
    paths.update(save_views(folder, result.views))
    (folder / "notes.txt").write_text("\n".join(result.notes) + "\n")
    return paths


def prepare_views(
    image_path: str | Path,
    settings: GenerateSettings,
    callbacks: Callbacks | None = None,
    locations: Locations | None = None,
    views_dir: str | Path | None = None,
    provider: Zero123PlusProvider | None = None,
) -> tuple[ViewSet, dict[str, object]]:
    """Six views (+ normals, masks) for `image_path` by Zero123++, saved under `views_dir`.

    Raises `PriorInputError` at once for a bad image or missing weights (before any model
    loads), and `Cancelled` between denoising steps when `callbacks.should_cancel()`.
    """
    provider = provider or Zero123PlusProvider(locations=locations)
    result = provider.run(image_path, settings, callbacks or Callbacks())
    paths = save_prior_views(result, views_dir) if views_dir is not None else {}
    paths["notes"] = result.notes
    return result.views, paths
