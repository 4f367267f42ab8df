"""Arguments of `latentdreamer eval generate`; torch is imported only when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentdreamer.api import PRESETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--meshes",
        type=Path,
        default=None,
        help="any folder of meshes, docs/evaluation.md (default: <repo>/../shared/eval/meshes)",
    )
    parser.add_argument(
        "--up", default=None, help="up axis (y or z) of mesh files no sidecar or convention orients (default z; glTF is y)"
    )
    parser.add_argument("--kind", default=None, help="kind (thin or solid) of entries without a sidecar saying one")
    parser.add_argument("--preset", default="draft", help=f"quality preset: {', '.join(PRESETS)} (tiny is for tests)")
    parser.add_argument("--device", default="auto", help="auto (CUDA, else Apple MPS, else CPU), cpu, cuda or mps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("out/eval"), help="where generation_eval.{json,md,png} go")
    parser.add_argument("--limit", type=int, default=None, help="only the first N meshes (by name)")
    parser.add_argument("--ablations", type=int, default=3, help="run the two ablations on the first N objects (0: none)")
    parser.add_argument("--view-size", type=int, default=256, help="pixels per oracle / scored view")
    parser.add_argument("--points", type=int, default=100_000, help="surface points per mesh for Chamfer/F-score")
    parser.add_argument("--sae", default=None, help="SAE weights file or training-run folder (default: the shipped weights)")
    parser.add_argument("--lin", default=None, help="LIN weights file or training-run folder paired with the SAE")
    parser.add_argument("--no-sae", action="store_true", help="optimise the SDF grid directly (the no-SAE baseline)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument(
        "--degrade",
        type=int,
        default=None,
        metavar="LEVEL",
        help="give the pipeline perturbed views: level 0 (exact) to 3, docs/evaluation.md 'Imperfect views'",
    )
    parser.add_argument(
        "--degrade-only",
        default=None,
        metavar="LIST",
        help="with --degrade: only these perturbations, comma-separated "
        "(jitter, scale, elevation, colour, normal_blur, normal_noise, masks, back)",
    )


def run(args: argparse.Namespace) -> int:
    import json

    import torch

    from latentdreamer.api import GenerateSettings
    from latentdreamer.device import resolve_device
    from latentdreamer.errors import SettingsError
    from latentdreamer.eval.generation import evaluate_generation
    from latentdreamer.io.eval_meshes import default_eval_root
    from latentdreamer.locations import Locations
    from latentdreamer.pipeline.shape_prior import load_shape_prior

    degradation = None
    if args.degrade_only and args.degrade is None:
        raise SettingsError("--degrade-only chooses among a level's perturbations", "give the level too: --degrade 1, 2 or 3")
    if args.degrade is not None:
        from latentdreamer.eval.degrade import PERTURBATIONS, level

        only = {n.strip() for n in args.degrade_only.split(",") if n.strip()} if args.degrade_only else None
        try:
            degradation = level(args.degrade, only)
        except ValueError as exc:
            raise SettingsError(str(exc), f"use --degrade 0 to 3 and --degrade-only from {', '.join(PERTURBATIONS)}") from exc
    torch.set_num_threads(args.threads)
    settings = GenerateSettings(preset=args.preset, device=args.device, seed=args.seed)
    locations = Locations.from_environment(sae_weights=args.sae, lin_weights=args.lin)
    prior = load_shape_prior(resolve_device(args.device), locations, use_sae=not args.no_sae)
    root = args.meshes or default_eval_root()
    report = evaluate_generation(
        root,
        args.out,
        settings,
        prior,
        args.limit,
        args.ablations,
        args.view_size,
        args.points,
        up=args.up,
        kind=args.kind,
        degradation=degradation,
    )
    print(json.dumps(report["mean"], indent=1))
    print(f"wrote {args.out / 'generation_eval.md'}, .json and .png")
    from latentdreamer.eval.entries import exit_status

    return exit_status(report)
