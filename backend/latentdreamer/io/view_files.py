"""The six views as image files: what the worker, the CLI and the single-image prior all write.

One naming for every caller (`rgb_k.png`, `normal_k.png`, k in camera order), so a folder
the backend wrote can be handed back as "six files" by the add-on or the CLI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentdreamer.io.images import write_png


def save_views(folder: Path, views) -> dict[str, list[str] | None]:
    """The six views as PNGs (RGBA where an alpha mask exists); returns their paths."""
    folder.mkdir(exist_ok=True)
    rgb_paths, normal_paths = [], []
    for k in range(len(views.rgb)):
        rgb = views.rgb[k]
        if views.alpha is not None:
            rgb = np.concatenate([rgb, views.alpha[k][..., None]], axis=-1)
        rgb_paths.append(str(folder / f"rgb_{k}.png"))
        write_png(rgb_paths[-1], rgb)
        if views.normals is not None:
            normal_paths.append(str(folder / f"normal_{k}.png"))
            write_png(normal_paths[-1], views.normals[k])
    return {"rgb": rgb_paths, "normals": normal_paths or None}
