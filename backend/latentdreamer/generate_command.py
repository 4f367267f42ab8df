"""`latentdreamer generate`: one command for every input, one textured mesh out.

    generate IMAGE -o out.glb                      one image -> Zero123++ views -> mesh
    generate --prompt TEXT -o out.glb              text -> one image (Stable Diffusion) -> as IMAGE
    generate --views GRID [--normals GRID] -o ...  the user's own six views (grid or --view-files)
    generate --from-mesh MESH -o ...               a mesh rendered into the six views (the oracle)

Weights and the image are checked before any model loads, so a missing download or a bad
file fails in about a second with the exact command that fixes it. Generated (or oracle)
views are saved beside the result (`<output>_views/`, with `prompt_image.png` for --prompt)
whatever happens later.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from latentdreamer.job import JobInputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", nargs="?", default=None,
                        help="the input image (PNG with transparency works best; JPEG, WebP, TIFF ...)")
    parser.add_argument("--prompt", metavar="TEXT", default=None,
                        help="make the input image from this text first (instead of IMAGE); "
                             "needs `latentdreamer weights download text-to-image`")
    parser.add_argument("--prompt-suffix", metavar="TEXT", default=None,
                        help='framing appended to --prompt (default: one whole object, centred, on a plain white '
                             'background, studio lighting; "" for none)')
    source = parser.add_argument_group("bring your own views instead of an image")
    source.add_argument("--views", metavar="GRID", default=None, help="six views as one 2x3 grid image (Zero123++ layout)")
    source.add_argument("--view-files", metavar="F", nargs=6, default=None, help="six view images, azimuth 30, 90, ... 330")
    source.add_argument("--normals", metavar="GRID", default=None, help="six normal maps as one grid (else masks-only)")
    source.add_argument("--normal-files", metavar="F", nargs=6, default=None, help="six normal-map images")
    source.add_argument("--from-mesh", metavar="MESH", default=None,
                        help="render this mesh (GLB/OBJ/PLY, textures or vertex colours) into the six views first")
    source.add_argument("--no-normals", action="store_true", help="with --from-mesh: masks-only mode (no normal maps)")
    parser.add_argument("-o", "--output", required=True, help="mesh file to write (.glb, .ply or .obj)")
    parser.add_argument("--views-dir", default=None, help="where to save the generated views (default: <output>_views)")
    parser.add_argument("--views-only", action="store_true", help="stop after making and saving the six views")
    parser.add_argument("--models-dir", default=None, help="local model folder (default: LATENTDREAMER_MODELS, else the HF cache)")
    parser.add_argument("--preset", default="standard", help="tiny, draft, standard or high")
    parser.add_argument("--device", default="auto", help="auto (CUDA, else Apple MPS, else CPU), cpu, cuda or mps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-texture", action="store_true", help="geometry only (no colour stage)")
    parser.add_argument("--texture", choices=("uv", "vertex"), default=None,
                        help="uv: a texture baked from the views plus vertex colours (default for .glb/.obj); "
                             "vertex: vertex colours only (default for .ply, which holds no texture)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default by preset: 2/15/28/75)")
    parser.add_argument("--guidance", type=float, default=4.0, help="classifier-free guidance scale (Zero123++ default 4)")
    parser.add_argument("--segmentation", default="auto", help="background removal: auto, rembg, alpha or plain")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def texture_mode(args: argparse.Namespace, output: Path) -> bool | str:
    """The pipeline's texture setting from --texture/--no-texture and the output format:
    a baked texture where the file can hold one (GLB, OBJ), vertex colours in a PLY."""
    from latentdreamer.pipeline.api import DEFAULT_TEXTURE

    if args.no_texture and args.texture:
        raise ValueError("--texture and --no-texture exclude each other")
    if args.no_texture:
        return False
    holds_texture = output.suffix.lower() in (".glb", ".obj")
    if args.texture == "uv" and not holds_texture:
        raise ValueError(f"{output.name}: a PLY file holds no texture; write .glb or .obj, or use --texture vertex")
    return args.texture or (DEFAULT_TEXTURE if holds_texture else "vertex")


def _check_sources(args: argparse.Namespace) -> str:
    """Which input path: 'image', 'prompt', 'views' or 'mesh'; exactly one must be given."""
    if args.image is not None and args.prompt is not None:
        raise ValueError("IMAGE and --prompt exclude each other: give an image, or a prompt to make one from")
    if args.prompt is not None and not args.prompt.strip():
        raise ValueError('--prompt is empty: describe one object, e.g. --prompt "a red teapot"')
    if args.prompt_suffix is not None and args.prompt is None:
        raise ValueError("--prompt-suffix goes with --prompt")
    given = {
        "image": args.image is not None,
        "prompt": args.prompt is not None,
        "views": bool(args.views or args.view_files),
        "mesh": args.from_mesh is not None,
    }
    chosen = [k for k, v in given.items() if v]
    if len(chosen) != 1:
        raise ValueError("give exactly one input: an IMAGE, --prompt, --views/--view-files, or --from-mesh")
    if (args.normals or args.normal_files) and chosen[0] != "views":
        raise ValueError("--normals/--normal-files go with --views/--view-files")
    if args.no_normals and chosen[0] != "mesh":
        raise ValueError("--no-normals goes with --from-mesh")
    if args.segmentation not in ("auto", "rembg", "alpha", "plain"):
        raise ValueError(f"unknown segmentation {args.segmentation!r}; choose auto, rembg, alpha or plain")
    return chosen[0]


def job_inputs(args: argparse.Namespace) -> JobInputs:
    """The command line as the one job's inputs (paths as given; the job checks them)."""
    from latentdreamer.job import JobInputs

    def paths(values):
        return tuple(Path(v) for v in values) if values else None

    return JobInputs(
        image=Path(args.image) if args.image else None, prompt=args.prompt, prompt_suffix=args.prompt_suffix,
        view_grid=Path(args.views) if args.views else None, view_files=paths(args.view_files),
        normal_grid=Path(args.normals) if args.normals else None, normal_files=paths(args.normal_files),
        mesh=Path(args.from_mesh) if args.from_mesh else None, mesh_normals=not args.no_normals,
    )


def _say_where(views_dir: Path, paths: dict, notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if "prompt_image" in paths:
        print(f"image for the prompt saved as {paths['prompt_image']}", file=sys.stderr)
    print(f"views saved in {views_dir}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from latentdreamer.errors import UserFacingError
    from latentdreamer.job import Models, PriorOptions, make_views, run_job
    from latentdreamer.pipeline.api import Callbacks, Cancelled, GenerateSettings
    from latentdreamer.pipeline.cli_progress import ProgressBar, summary

    output = Path(args.output)
    views_dir = Path(args.views_dir) if args.views_dir else output.with_name(output.stem + "_views")
    try:
        _check_sources(args)
        inputs = job_inputs(args)
        settings = GenerateSettings(preset=args.preset, device=args.device, seed=args.seed, texture=texture_mode(args, output))
        if output.suffix.lower() not in (".glb", ".ply", ".obj"):
            raise ValueError(f"output {output} must end in .glb, .ply or .obj")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar = ProgressBar(enabled=not args.quiet)
    callbacks = Callbacks(on_progress=bar)
    models = Models(args.models_dir)
    prior = PriorOptions(steps=args.steps, guidance=args.guidance, segmentation=args.segmentation)
    try:
        if args.views_only:
            _, paths, notes, _ = make_views(inputs, settings, views_dir, callbacks, models, prior)
            bar.close()
            _say_where(views_dir, paths, notes)
            return 0
        from latentdreamer.io.mesh_io import save_mesh

        done = run_job(inputs, settings, views_dir, callbacks, models, prior)
        bar.close()
        _say_where(views_dir, done.view_paths, done.notes)
        path = save_mesh(done.result.mesh, output)
        print(summary(done.result), file=sys.stderr)
        print(path)
        return 0
    except UserFacingError as exc:
        bar.close()
        print(f"\nerror: {exc.message}\n  hint: {exc.hint}", file=sys.stderr)
        return 2
    except Cancelled as exc:
        bar.close()
        print(f"\ncancelled during {exc.stage}", file=sys.stderr)
        return 130
