"""`latentdreamer batch`: many generate jobs, resumable, on this machine or spread by Ray.

    batch FOLDER_OF_IMAGES --out DIR              one item per image
    batch FOLDER_OF_VIEW_SETS --out DIR           one item per sub-folder (a grid image, or
                                                  six rgb_k files, with optional normal maps)
    batch MANIFEST.csv|MANIFEST.jsonl --out DIR   one item per row, with per-item settings
    batch ... --ray auto|ADDRESS                  Ray actors, each holding the models warm

Each item runs the one job path (`latentdreamer.job`, through `batch/run_items.py`) and writes `DIR/<name>/`: the mesh,
its views and `record.json` (inputs, settings, their hash, timings, stats or the error).
An item whose inputs and settings hash to a finished record is skipped, so an interrupted
batch is resumed by running the same command again. `DIR/summary.json` and `summary.md`
list every item; the exit code is 1 when any item failed. Ray is an optional extra
(`pip install 'latentdreamer[farm]'`): the scheduling is Ray's, not ours.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentdreamer.api import PRESETS
from latentdreamer.batch.items import BatchInputError, collect_items, finished
from latentdreamer.batch.run_items import run_local, write_summary
from latentdreamer.locations import Locations


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", type=Path, help="a folder of images, a folder of view-set folders, or a .csv/.jsonl manifest")
    parser.add_argument("--out", type=Path, required=True, help="output folder (one sub-folder per item)")
    parser.add_argument(
        "--preset",
        default="standard",
        help=f"quality preset: {', '.join(PRESETS)} (tiny is for tests) (a manifest may set it per item)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-texture", action="store_true", help="geometry only")
    parser.add_argument("--format", default="glb", choices=("glb", "ply", "obj"), help="mesh file format")
    parser.add_argument("--models-dir", default=None, help="local model folder (default: LATENTDREAMER_MODELS)")
    parser.add_argument("--force", action="store_true", help="run every item, also those already finished")
    parser.add_argument(
        "--ray",
        metavar="auto|ADDRESS",
        default=None,
        help="spread items over Ray actors: 'auto' (a local Ray, or RAY_ADDRESS) or a cluster address",
    )
    parser.add_argument(
        "--actors", type=int, default=None, help="Ray actors (default: one per GPU, else one per --cpus-per-actor cores)"
    )
    parser.add_argument("--cpus-per-actor", type=int, default=2, help="cores each CPU actor reserves")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    defaults = {"preset": args.preset, "device": args.device, "seed": args.seed, "texture": not args.no_texture}
    locations = Locations.from_environment(models_dir=args.models_dir)  # the environment, read once here
    try:
        from latentdreamer.api import GenerateSettings

        GenerateSettings(**defaults)  # a bad preset or device fails here, not once per item
        items = collect_items(args.inputs, defaults)
        args.out.mkdir(parents=True, exist_ok=True)
        probe = args.out / ".latentdreamer-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except (BatchInputError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write to {args.out}: {exc}\n  hint: choose a folder you can write", file=sys.stderr)
        return 2
    skipped = [] if args.force else [item for item in items if finished(item, args.out, args.format)]
    todo = [item for item in items if item not in skipped]
    print(f"{len(items)} items: {len(skipped)} already finished, {len(todo)} to run", file=sys.stderr)
    try:
        if args.ray is None:
            records = run_local(todo, args.out, args.format, locations, args.quiet)
        else:
            from latentdreamer.batch.ray_actors import RayUnavailable, run_ray

            # Each actor reads its own machine's environment; the models folder chosen here goes with it.
            models_dir = str(locations.models_dir) if locations.models_dir else None
            try:
                records = run_ray(todo, args.out, args.format, models_dir, args.ray, args.actors, args.cpus_per_actor, args.quiet)
            except RayUnavailable as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished items are kept; run the same command again to resume", file=sys.stderr)
        return 130
    by_name = {r["name"]: r for r in records}
    for item in skipped:
        by_name[item.name] = {"name": item.name, "status": "skipped", "settings": item.settings, "key": item.key()}
    ordered = [by_name[item.name] for item in items if item.name in by_name]
    summary_json, summary_md = write_summary(ordered, args.out)
    failed = [r for r in ordered if r["status"] == "failed"]
    for r in failed:
        print(f"failed: {r['name']}: {r.get('error')}" + (f"\n  hint: {r['hint']}" if r.get("hint") else ""), file=sys.stderr)
    print(f"summary: {summary_md}", file=sys.stderr)
    print(summary_json)
    return 1 if failed else 0
