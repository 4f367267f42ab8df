"""Arguments of `latentdreamer eval lin`; torch is imported only when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default=None, help="LIN .safetensors (default: the shipped weights)")
    parser.add_argument("--checkpoint", default=None, help="evaluate a LIN training run directory's checkpoint instead")
    parser.add_argument(
        "--sae",
        default=None,
        help="SAE .safetensors the LIN pairs with (default: the run's SAE for --checkpoint, else the shipped SAE); a mismatched pair is refused",
    )
    parser.add_argument("--shapes", type=int, default=50, help="unseen random shapes")
    parser.add_argument(
        "--meshes", type=Path, default=None, help="folder of evaluation meshes (default: <repo>/../shared/eval/meshes)"
    )
    parser.add_argument(
        "--up", default=None, help="up axis (y or z) of mesh files no sidecar or convention orients (default z; glTF is y)"
    )
    parser.add_argument("--kind", default=None, help="kind (thin or solid) of entries without a sidecar saying one")
    parser.add_argument("--no-meshes", action="store_true", help="random shapes only")
    parser.add_argument("--out", type=Path, default=Path("out/eval"), help="where lin_eval.{json,md} go")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def run(args: argparse.Namespace) -> int:
    import json

    import torch

    from latentdreamer.eval.lin import evaluate
    from latentdreamer.models.lin import DEFAULT_LIN_WEIGHTS, check_pairing, load_lin, load_lin_checkpoint
    from latentdreamer.models.trained_sae import DEFAULT_SAE_WEIGHTS, load_sae
    from latentdreamer.models.weights_file import read_card, sha256_file

    torch.set_num_threads(args.threads)
    if args.checkpoint:
        lin, sae_record = load_lin_checkpoint(args.checkpoint)
        source = str(Path(args.checkpoint) / "checkpoint.safetensors")
        sae_path = Path(args.sae or sae_record["path"])
        check_pairing({"sae_sha256": sae_record["sha256"]}, read_card(sae_path)["sha256"], lin_name=f"the run {args.checkpoint}")
    else:
        source = str(args.weights or DEFAULT_LIN_WEIGHTS)
        sae_path = Path(args.sae or DEFAULT_SAE_WEIGHTS)
        lin = load_lin(source, sae_card=sae_path)
    sae = load_sae(sae_path)
    report = evaluate(
        lin,
        sae,
        source,
        sha256_file(source),
        read_card(sae_path)["sha256"],
        args.out,
        args.shapes,
        args.meshes,
        not args.no_meshes,
        up=args.up,
        kind=args.kind,
    )
    print(json.dumps({k: report[k]["mean"] for k in ("random", "meshes") if k in report}, indent=1))
    print(f"wrote {args.out / 'lin_eval.md'}")
    from latentdreamer.eval.entries import exit_status

    return exit_status(report)
