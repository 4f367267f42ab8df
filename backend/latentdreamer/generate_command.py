"""`latentdreamer generate IMAGE -o out.glb`: one image -> Zero123++ views -> mesh.

Weights and the image are checked before any model loads, so a missing download or a bad
file fails in about a second with the exact command that fixes it. The generated views are
saved beside the result (`<output>_views/`) whatever happens later.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

GENERATE = ("latentdreamer.pipeline.generate", "generate_from_views")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="the input image (PNG with transparency works best; JPEG, WebP, TIFF ...)")
    parser.add_argument("-o", "--output", required=True, help="mesh file to write (.glb, .ply or .obj)")
    parser.add_argument("--views-dir", default=None, help="where to save the generated views (default: <output>_views)")
    parser.add_argument("--views-only", action="store_true", help="stop after making and saving the six views")
    parser.add_argument("--models-dir", default=None, help="local model folder (default: LATENTDREAMER_MODELS, else the HF cache)")
    parser.add_argument("--preset", default="standard", help="tiny, draft, standard or high")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default by preset: 2/15/28/75)")
    parser.add_argument("--guidance", type=float, default=4.0, help="classifier-free guidance scale (Zero123++ default 4)")
    parser.add_argument("--segmentation", default="auto", help="background removal: auto, rembg, alpha or plain")


def _print_progress(progress) -> None:
    eta = f", {progress.eta_s:.0f} s left" if progress.eta_s is not None else ""
    print(f"\r{progress.stage}: {progress.step}/{progress.total} ({progress.fraction:.0%}{eta})   ", end="", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from latentdreamer.errors import UserFacingError
    from latentdreamer.pipeline.api import Callbacks, Cancelled, GenerateSettings
    from latentdreamer.priors.provider import Zero123PlusProvider
    from latentdreamer.priors.single_image import prepare_views

    output = Path(args.output)
    views_dir = Path(args.views_dir) if args.views_dir else output.with_name(output.stem + "_views")
    try:
        settings = GenerateSettings(preset=args.preset, device=args.device, seed=args.seed)
        if args.segmentation not in ("auto", "rembg", "alpha", "plain"):
            raise ValueError(f"unknown segmentation {args.segmentation!r}; choose auto, rembg, alpha or plain")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    callbacks = Callbacks(on_progress=_print_progress)
    provider = Zero123PlusProvider(models_dir=args.models_dir, steps=args.steps, guidance=args.guidance,
                                   segmentation=args.segmentation, span=(0.0, 0.3))
    try:
        views, paths = prepare_views(args.image, settings, callbacks, views_dir=views_dir, provider=provider)
        print(file=sys.stderr)
        for note in paths.get("notes", []):
            print(f"note: {note}", file=sys.stderr)
        print(f"views saved in {views_dir}", file=sys.stderr)
        if args.views_only:
            return 0
        module = importlib.util.find_spec(GENERATE[0])
        if module is None:
            print(f"error: this backend has no mesh pipeline yet ({'.'.join(GENERATE)}); the views are in {views_dir}",
                  file=sys.stderr)
            return 3
        generate = getattr(importlib.import_module(GENERATE[0]), GENERATE[1])
        result = generate(views, settings, callbacks)
        from latentdreamer.io.mesh_io import save_mesh

        print(file=sys.stderr)
        print(save_mesh(result.mesh, output))
        return 0
    except UserFacingError as exc:
        print(f"\nerror: {exc.message}\n  hint: {exc.hint}", file=sys.stderr)
        return 2
    except Cancelled as exc:
        print(f"\ncancelled during {exc.stage}", file=sys.stderr)
        return 130
