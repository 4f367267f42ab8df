"""Arguments of `latentdreamer eval sae`; torch is imported only when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default=None, help="SAE .safetensors (default: the shipped weights)")
    parser.add_argument("--checkpoint", default=None, help="evaluate a training run directory's checkpoint instead")
    parser.add_argument("--shapes", type=int, default=200, help="unseen random shapes to round-trip")
    parser.add_argument(
        "--first-shape", type=int, default=0, help="start at this unseen seed offset (to split the set over processes)"
    )
    parser.add_argument(
        "--meshes", type=Path, default=None, help="folder of evaluation meshes (default: <repo>/../shared/eval/meshes)"
    )
    parser.add_argument(
        "--up", default=None, help="up axis (y or z) of mesh files no sidecar or convention orients (default z; glTF is y)"
    )
    parser.add_argument("--kind", default=None, help="kind (thin or solid) of entries without a sidecar saying one")
    parser.add_argument("--no-meshes", action="store_true", help="random shapes only")
    parser.add_argument(
        "--shape-set",
        choices=("blocks", "thin"),
        default="blocks",
        help="random shapes: the blocks the shipped SAE was trained on, or thin parts (report key random_thin)",
    )
    parser.add_argument("--truth-resolution", type=int, default=None, help="random shapes' truth grid (default 128, thin 192)")
    parser.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="decode resolution (default: twice the model's, see trained_sae.mesh_resolution)",
    )
    parser.add_argument("--points", type=int, default=100_000, help="surface points per mesh for Chamfer/F-score")
    parser.add_argument("--out", type=Path, default=Path("out/eval"), help="where sae_eval.{json,md} and the contact sheets go")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def run(args: argparse.Namespace) -> int:
    import json

    import torch

    from latentdreamer.eval.sae import evaluate
    from latentdreamer.models.trained_sae import DEFAULT_SAE_WEIGHTS, load_sae, load_sae_checkpoint
    from latentdreamer.models.weights_file import sha256_file

    torch.set_num_threads(args.threads)
    if args.checkpoint:
        model, source = load_sae_checkpoint(args.checkpoint), str(Path(args.checkpoint) / "checkpoint.safetensors")
    else:
        source = str(args.weights or DEFAULT_SAE_WEIGHTS)
        model = load_sae(source)
    report = evaluate(
        model,
        source,
        sha256_file(source),
        args.out,
        args.shapes,
        args.meshes,
        not args.no_meshes,
        args.resolution,
        args.points,
        gt_resolution=args.truth_resolution,
        first_shape=args.first_shape,
        up=args.up,
        kind=args.kind,
        shape_set=args.shape_set,
    )
    summary = {k: report[k]["mean"] for k in ("random", "random_thin", "meshes") if k in report}
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out / 'sae_eval.md'}")
    from latentdreamer.eval.entries import exit_status

    return exit_status(report)
