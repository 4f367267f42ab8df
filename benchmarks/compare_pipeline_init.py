"""Where the coarse stage starts: LIN latent vs SAE encoding of the visual hull vs zero latent.

    .venv-backend/bin/python benchmarks/compare_pipeline_init.py --sae SAE --lin LIN [--preset tiny] [--seed 7]

SAE / LIN: weights files or training-run folders (default: the shipped ones). On the demo's
coloured random object (oracle views, 192 px), runs the pipeline without texture from each
start and prints the coarse loss every few steps and the volume IoU against the true shape
(docs/design.md §7, 20k points). Baseline in the same process: the zero latent (the prior mean),
which is what the pipeline would start from with neither LIN nor a visual hull.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sae", default=None)
    parser.add_argument("--lin", default=None)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--starts", nargs="+", default=["lin", "hull", "zero"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from latentdreamer.api import GenerateSettings
    from latentdreamer.geometry.example_object import example_object
    from latentdreamer.locations import Locations
    from latentdreamer.metrics.geometry import evaluate_geometry
    from latentdreamer.pipeline.generate import PipelineOptions, generate_from_views
    from latentdreamer.pipeline.oracle_views import oracle_views
    from latentdreamer.pipeline.shape_prior import load_shape_prior

    prior = load_shape_prior(torch.device("cpu"), Locations.from_environment(sae_weights=args.sae, lin_weights=args.lin))
    if prior.sae is None:
        raise SystemExit("needs SAE weights (--sae)")
    truth, views = oracle_views(example_object(args.seed), resolution=192)
    print(f"SAE {prior.source}; LIN {'yes' if prior.lin is not None else 'no'}; preset {args.preset}")
    for start in args.starts:
        if start == "lin" and prior.lin is None:
            continue
        history: dict[str, list[float]] = {}
        t = time.perf_counter()
        result = generate_from_views(
            views,
            GenerateSettings(preset=args.preset, device="cpu", texture=False),
            options=PipelineOptions(init=start, history=history),
            prior=prior,
        )
        iou = evaluate_geometry(result.mesh, truth, count=20_000).volume_iou
        losses = " ".join(f"{v:.3f}" for v in history["coarse"][::3])
        print(f"{start:>5}: volume IoU {iou:.3f} in {time.perf_counter() - t:.0f} s; coarse loss every 3 steps: {losses}")


if __name__ == "__main__":
    main()
