"""`latentdreamer generate`: one command for every input, one textured mesh out.

    generate IMAGE -o out.glb                      one image -> Zero123++ views -> mesh
    generate --prompt TEXT -o out.glb              text -> one image (Stable Diffusion) -> as IMAGE
    generate --views GRID [--normals GRID] -o ...  the user's own six views (grid or --view-files)
    generate --from-mesh MESH -o ...               a mesh rendered into the six views (the oracle)

Everything is checked before any compute (`_preflight`): the inputs exist, the output path
and views folder can be written, the device exists, the seed and options are in range, and
the shape models' weights match their checksums; so a mistake fails in about a second with
the exact fix. Generated (or oracle) views are saved beside the result (`<output>_views/`,
with `prompt_image.png` for --prompt) as soon as they exist, whatever happens later; your own
views are not copied unless --views-dir asks for it.

Nothing is replaced without --overwrite: an existing output (or views a run saved before)
makes the command refuse at once. Files are written into a temporary folder beside their
destination and renamed into place when complete, so a full disk or a kill never leaves a
half-written mesh, and never destroys the earlier one.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from latentdreamer.api import PRESETS

if TYPE_CHECKING:
    from latentdreamer.job import JobInputs
    from latentdreamer.locations import Locations


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "image", nargs="?", default=None, help="the input image (PNG with transparency works best; JPEG, WebP, TIFF ...)"
    )
    parser.add_argument(
        "--prompt",
        metavar="TEXT",
        default=None,
        help="make the input image from this text first (instead of IMAGE); needs `latentdreamer weights download text-to-image`",
    )
    parser.add_argument(
        "--prompt-suffix",
        metavar="TEXT",
        default=None,
        help="framing appended to --prompt (default: one whole object, centred, on a plain white "
        'background, studio lighting; "" for none)',
    )
    source = parser.add_argument_group("bring your own views instead of an image")
    source.add_argument("--views", metavar="GRID", default=None, help="six views as one 2x3 grid image (Zero123++ layout)")
    source.add_argument("--view-files", metavar="F", nargs=6, default=None, help="six view images, azimuth 30, 90, ... 330")
    source.add_argument("--normals", metavar="GRID", default=None, help="six normal maps as one grid (else masks-only)")
    source.add_argument("--normal-files", metavar="F", nargs=6, default=None, help="six normal-map images")
    source.add_argument(
        "--from-mesh",
        metavar="MESH",
        default=None,
        help="render this mesh (GLB/OBJ/PLY, textures or vertex colours) into the six views first",
    )
    source.add_argument("--no-normals", action="store_true", help="with --from-mesh: masks-only mode (no normal maps)")
    parser.add_argument("-o", "--output", required=True, help="mesh file to write (.glb, .ply or .obj)")
    parser.add_argument("--views-dir", default=None, help="where to save the generated views (default: <output>_views)")
    parser.add_argument("--views-only", action="store_true", help="stop after making and saving the six views")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output (and the views an earlier run saved); without it the command refuses",
    )
    parser.add_argument(
        "--models-dir", default=None, help="local model folder (default: LATENTDREAMER_MODELS, else the HF cache)"
    )
    parser.add_argument("--preset", default="standard", help=f"quality preset: {', '.join(PRESETS)} (tiny is for tests)")
    parser.add_argument("--device", default="auto", help="auto (CUDA, else Apple MPS, else CPU), cpu, cuda or mps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-texture", action="store_true", help="geometry only (no colour stage)")
    parser.add_argument(
        "--texture",
        choices=("uv", "vertex"),
        default=None,
        help="uv: a texture baked from the views plus vertex colours (default for .glb/.obj); "
        "vertex: vertex colours only (default for .ply, which holds no texture)",
    )
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default by preset: 2/15/28/75)")
    parser.add_argument("--guidance", type=float, default=4.0, help="classifier-free guidance scale (Zero123++ default 4)")
    parser.add_argument("--segmentation", default="auto", help="background removal: auto, rembg, alpha or plain")
    parser.add_argument(
        "--framing",
        type=float,
        default=0.85,
        help="the object's longest side as a share of the square Zero123++ input (0.3-1.0; default 0.85, as InstantMesh)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def texture_mode(args: argparse.Namespace, output: Path) -> bool | str:
    """The pipeline's texture setting from --texture/--no-texture and the output format:
    a baked texture where the file can hold one (GLB, OBJ), vertex colours in a PLY."""
    from latentdreamer.api import DEFAULT_TEXTURE

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
    from latentdreamer.priors.image_input import check_framing

    check_framing(args.framing)
    return chosen[0]


def job_inputs(args: argparse.Namespace) -> JobInputs:
    """The command line as the one job's inputs (paths as given; the job checks them)."""
    from latentdreamer.job import JobInputs

    def paths(values):
        return tuple(Path(v) for v in values) if values else None

    return JobInputs(
        image=Path(args.image) if args.image else None,
        prompt=args.prompt,
        prompt_suffix=args.prompt_suffix,
        view_grid=Path(args.views) if args.views else None,
        view_files=paths(args.view_files),
        normal_grid=Path(args.normals) if args.normals else None,
        normal_files=paths(args.normal_files),
        mesh=Path(args.from_mesh) if args.from_mesh else None,
        mesh_normals=not args.no_normals,
    )


def _say_where(views_dir: Path, paths: dict, notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if "prompt_image" in paths:
        print(f"image for the prompt saved as {paths['prompt_image']}", file=sys.stderr)
    print(f"views saved in {views_dir}", file=sys.stderr)


def _check_input_files(inputs: JobInputs) -> None:
    """Every input path exists and is a file, checked before torch loads (a typo fails at once)."""
    from latentdreamer.errors import UserFacingError as InputError

    named = [
        ("image", inputs.image),
        ("views grid image", inputs.view_grid),
        ("normal-map grid image", inputs.normal_grid),
        ("mesh", inputs.mesh),
    ]
    named += [("views file", p) for p in inputs.view_files or ()]
    named += [("normal-map file", p) for p in inputs.normal_files or ()]
    for what, path in named:
        if path is None:
            continue
        if path.is_dir():
            raise InputError(f"{what} {path} is a folder, not a file", "give the path of the file itself")
        if not path.is_file():
            raise InputError(f"{what} not found: {path}", "check the path (relative paths start in the current folder)")


def _check_options(args: argparse.Namespace) -> None:
    from latentdreamer.errors import SettingsError

    if args.steps is not None and args.steps < 1:
        raise SettingsError(f"--steps {args.steps}: the prior needs at least one denoising step", "leave it out for the preset's")
    if not math.isfinite(args.guidance) or args.guidance <= 0:
        raise SettingsError(f"--guidance {args.guidance} is not a positive number", "Zero123++ uses 4; leave it out")


def _preflight(
    args: argparse.Namespace,
    inputs: JobInputs,
    settings,
    locations: Locations,
    output: Path,
    views_dir: Path,
    publish_views: bool,
) -> None:
    """Everything that can be checked before compute; raises UserFacingError."""
    from latentdreamer.errors import OutputError
    from latentdreamer.io.mesh_io import textured_obj_files
    from latentdreamer.io.output_files import VIEW_FILE_NAMES, check_folder, check_output_path, existing_files
    from latentdreamer.pipeline.shape_prior import check_shape_weights

    _check_options(args)
    check_output_path(output, (".glb", ".ply", ".obj"), overwrite=args.overwrite or args.views_only)
    _check_input_files(inputs)
    if output.suffix.lower() == ".obj" and settings.texture == "uv" and not args.views_only and not args.overwrite:
        for companion in textured_obj_files(output):
            if companion.exists():
                raise OutputError(
                    f"{companion} (the texture or material of {output.name}) already exists; it was left as it is",
                    "add --overwrite to replace it, or choose another name",
                    code="output_exists",
                )
    if publish_views:
        if views_dir.exists() and not views_dir.is_dir():
            raise OutputError(f"views folder {views_dir} is a file", "choose another --views-dir", code="bad_output")
        check_folder(views_dir, "views folder")
        earlier = existing_files(views_dir, VIEW_FILE_NAMES) if views_dir.is_dir() else []
        if earlier and not args.overwrite:
            raise OutputError(
                f"views folder {views_dir} already holds views of an earlier run ({earlier[0].name}, ...); "
                "they were left as they are",
                "add --overwrite to replace them, or choose another --views-dir",
                code="output_exists",
            )
    if settings.device in ("cuda", "mps"):
        from latentdreamer.device import resolve_device

        resolve_device(settings.device)
    check_shape_weights(locations)


def _save_output(mesh, output: Path, overwrite: bool) -> Path:
    """The mesh (and an OBJ's MTL and texture) written aside, then renamed into place."""
    from latentdreamer.errors import write_failed
    from latentdreamer.io.mesh_io import save_mesh
    from latentdreamer.io.output_files import StagedFolder

    with StagedFolder(output.parent, overwrite, "output folder") as stage:
        assert stage.path is not None
        try:
            save_mesh(mesh, stage.path / output.name, output.suffix.lstrip(".").lower())
        except OSError as exc:  # a full disk, a size limit: the earlier file at `output` is untouched
            raise write_failed(output, exc) from None
        stage.publish(last=output.name)
    return output


def run(args: argparse.Namespace) -> int:
    from latentdreamer.api import Callbacks, Cancelled, GenerateSettings
    from latentdreamer.cli.progress import ProgressBar, summary
    from latentdreamer.errors import UserFacingError, exit_code, format_error
    from latentdreamer.io.output_files import StagedFolder
    from latentdreamer.job import Models, PriorOptions, make_views, run_job
    from latentdreamer.locations import Locations

    output = Path(args.output).expanduser()
    views_dir = Path(args.views_dir).expanduser() if args.views_dir else output.with_name(output.stem + "_views")
    try:
        source = _check_sources(args)
        inputs = job_inputs(args)
        settings = GenerateSettings(preset=args.preset, device=args.device, seed=args.seed, texture=texture_mode(args, output))
        # Your own views are already files: they are saved again only where --views-dir asks.
        publish_views = source != "views" or args.views_dir is not None
        locations = Locations.from_environment(models_dir=args.models_dir)  # the environment, read once here
        _preflight(args, inputs, settings, locations, output, views_dir, publish_views)
    except UserFacingError as exc:
        print(format_error(exc), file=sys.stderr)
        return exit_code(exc)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar = ProgressBar(enabled=not args.quiet)
    callbacks = Callbacks(on_progress=bar)
    models = Models(locations)
    prior = PriorOptions(steps=args.steps, guidance=args.guidance, segmentation=args.segmentation, framing=args.framing)
    shown: dict = {}

    try:
        with StagedFolder(views_dir, args.overwrite, "views folder") as stage:
            assert stage.path is not None

            def publish(paths: dict) -> None:
                """Views go into their folder as soon as they exist, so they survive a failed mesh."""
                if publish_views:
                    moved = {p.name: str(p) for p in stage.publish()}
                    shown.update({k: moved.get(Path(v).name, v) if isinstance(v, str) else v for k, v in paths.items()})

            if args.views_only:
                _, paths, notes, _ = make_views(inputs, settings, stage.path, callbacks, models, prior)
                publish(paths)
                bar.close()
                _say_where(views_dir, shown, notes)
                return 0
            done = run_job(inputs, settings, stage.path, callbacks, models, prior, on_views=publish)
        bar.close()
        if publish_views:
            _say_where(views_dir, shown, done.notes)
        else:
            for note in done.notes:
                print(f"note: {note}", file=sys.stderr)
        path = _save_output(done.result.mesh, output, args.overwrite)
        print(summary(done.result), file=sys.stderr)
        print(path)
        return 0
    except UserFacingError as exc:
        bar.close()
        print("\n" + format_error(exc), file=sys.stderr)
        return exit_code(exc)
    except Cancelled as exc:
        bar.close()
        print(f"\ncancelled during {exc.stage}", file=sys.stderr)
        return 130
