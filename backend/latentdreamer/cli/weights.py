"""`latentdreamer weights status|download|verify|path`: the prior weights, seen and fetched
only when the user asks. Cheap to import: no torch, no hub client until `download`.

`download` with no model named fetches nothing; `--image` names what single image -> 3D
needs (Zero123++, its normal ControlNet, the background-removal model) — what the add-on's
Download Models asks for — and `text-to-image` is fetched only when named (or `--all`).
"""

from __future__ import annotations

import argparse
import json
import sys

from latentdreamer.locations import Locations
from latentdreamer.priors.errors import PriorInputError
from latentdreamer.priors.model_store import (
    IMAGE_MODELS,
    MODELS,
    download,
    effective_spec,
    how_to_get,
    model_status,
    verify,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("status", "download", "verify", "path"))
    parser.add_argument("models", nargs="*", metavar="MODEL", help=f"one or more of: {', '.join(MODELS)} (download/verify/path)")
    parser.add_argument("--all", action="store_true", help="download or verify every model (text-to-image too)")
    parser.add_argument("--image", action="store_true", help=f"the models single image -> 3D needs: {', '.join(IMAGE_MODELS)}")
    parser.add_argument(
        "--models-dir",
        default=None,
        help="a local folder with one sub-folder per model (default: LATENTDREAMER_MODELS, else the Hugging Face cache)",
    )
    parser.add_argument("--json", action="store_true", help="status as JSON")


def _chosen(args: argparse.Namespace) -> list[str] | None:
    if args.all:
        names = list(MODELS)
    elif args.image:
        names = list(dict.fromkeys([*IMAGE_MODELS, *args.models]))
    else:
        names = list(MODELS) if args.action in ("status", "verify") and not args.models else args.models
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        print(f"name the model(s): {', '.join(MODELS)} (or --all); got {', '.join(unknown) or 'none'}", file=sys.stderr)
        return None
    return names


def _status(names: list[str], args: argparse.Namespace, locations: Locations) -> int:
    rows = []
    for name in names:
        st = model_status(MODELS[name], locations)
        rows.append(
            {
                "name": name,
                "repo_id": st.spec.repo_id,
                "purpose": st.spec.purpose,
                "licence": st.spec.licence,
                "present": st.complete,
                "source": st.source,
                "path": str(st.path) if st.path else None,
                "size_bytes": st.size_bytes,
                "approx_download_gb": st.spec.approx_gb,
                "missing": st.missing,
                "needed_for": st.spec.needed_for,
                "how_to_get": None if st.complete else how_to_get(st.spec, locations),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        state = f"present ({r['source']}, {r['size_bytes'] / 1e9:.2f} GB): {r['path']}" if r["present"] else "MISSING"
        print(f"{r['name']}  [{r['repo_id']}]  {state}")
        print(f"    {r['purpose']}; licence: {r['licence']}")
        if not r["present"]:
            if r["path"]:
                print(f"    incomplete in {r['path']}: missing {', '.join(r['missing'])}")
            print(f"    to get it: {r['how_to_get']}")
    print(
        "GPU memory: about 5 GB in fp16 for Zero123++ with its normal ControlNet (text-to-image runs before it, "
        "about 3 GB, freed before the views); CPU works but takes minutes."
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """The chosen action; a problem the user can fix (a bad pins file, a failed download) is
    one message and a hint, exit 1, never a traceback."""
    try:
        return _run(args)
    except PriorInputError as exc:
        print(f"error: {exc.message}\n  hint: {exc.hint}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    names = _chosen(args)
    if names is None:
        return 2
    locations = Locations.from_environment(models_dir=args.models_dir)  # the environment, read once here
    if args.action == "status":
        return _status(names, args, locations)
    if args.action == "path":
        code = 0
        for name in names:
            st = model_status(MODELS[name], locations)
            if st.complete:
                print(st.path)
            else:
                print(f"{name} is missing: {how_to_get(st.spec, locations)}", file=sys.stderr)
                code = 1
        return code
    if args.action == "verify":
        ok_all = True
        for name in names:
            ok, lines = verify(MODELS[name], locations)
            print("\n".join(lines))
            ok_all &= ok
        return 0 if ok_all else 1
    for name in names:  # download
        spec = effective_spec(MODELS[name], locations)
        print(
            f"downloading {spec.name}: {spec.repo_id} ({spec.revision}, about {spec.approx_gb:g} GB, licence {spec.licence})",
            file=sys.stderr,
            flush=True,
        )
        path = download(spec, locations)
        print(path, flush=True)
    return 0
