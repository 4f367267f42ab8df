"""CUDA readiness in one run: parity with the CPU, preset timings, the sampler's memory.

    .venv-backend/bin/python benchmarks/gpu_check.py [--device cuda] [--out docs/gpu_check.md] [--quick]

Run by `scripts/gpu_check.sh` on a machine with an NVIDIA GPU (the whole script is sized for
under 8 minutes on one). Every check computes the same thing on the CPU (the baseline, in
the same process) and on --device, and prints the largest difference and both times:

1. rasteriser, torch path: triangle ids (exact match share), barycentrics, interpolated
   attributes, antialiased mask and its gradient to positions;
2. nvdiffrast, when `nvdiffrast.torch` imports (optional, non-commercial): the same buffers;
3. FlexiCubes on a sphere SDF at 64³: vertex/face counts and surface area;
4. SAE decode of a prior sample with the shipped weights: SDF difference and sign agreement;
5. a whole `tiny` generation from the demo object's oracle views: volume IoU of each
   result against the object, and the two against each other;
6. every preset on --device from the same views (seconds, with the CPU's `draft` beside);
7. the tiny random Zero123++ sampler (tests/backend/priors/tiny_diffusion.py) in fp16 on
   --device: its output range and the peak GPU memory.

With --device cpu the script runs every path on the CPU against itself (a smoke test of
the script, used by the test suite with --quick). The markdown report goes to --out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def timed(fn):
    start = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def check_rasteriser(dev: torch.device, backend: str) -> dict:
    from latentdreamer.geometry.example_object import example_object
    from latentdreamer.render.cameras import prior_cameras, to_clip
    from latentdreamer.render.rasterize import antialias, interpolate, rasterize

    mesh = example_object(seed=3, resolution=64)
    pos_cpu = to_clip(torch.as_tensor(mesh.vertices, dtype=torch.float32), prior_cameras()).detach()
    tri = torch.as_tensor(mesh.faces, dtype=torch.int32)
    res = (160, 160)

    def run(device: torch.device, which: str):
        pos = pos_cpu.to(device).clone().requires_grad_(True)
        t = tri.to(device)
        rast = rasterize(pos, t, res, backend=which)
        colour = torch.ones(pos.shape[1], 1, device=device)
        attr = interpolate(colour, rast, t)
        mask = antialias(attr, rast, pos, t)
        mask.sum().backward()
        return rast.detach().cpu(), mask.detach().cpu(), pos.grad.detach().cpu()

    (r0, m0, g0), t_cpu = timed(lambda: run(torch.device("cpu"), "torch"))
    (r1, m1, g1), t_dev = timed(lambda: run(dev, backend))
    ids_match = float((r0[..., 3] == r1[..., 3]).float().mean())
    covered = (r0[..., 3] > 0) & (r1[..., 3] > 0)
    return {
        "ids equal": f"{ids_match:.4f}",
        "max |uv| diff": f"{float((r0[..., :2] - r1[..., :2])[covered].abs().max()):.2e}",
        "max |mask| diff": f"{float((m0 - m1).abs().max()):.2e}",
        "grad rel diff": f"{float((g0 - g1).norm() / g0.norm().clamp_min(1e-12)):.2e}",
        "cpu s": f"{t_cpu:.3f}",
        "device s": f"{t_dev:.3f}",
    }


def check_flexicubes(dev: torch.device) -> dict:
    from latentdreamer.geometry.flexicubes import flexicubes
    from latentdreamer.geometry.grid import grid_points

    sdf = torch.from_numpy(np.linalg.norm(grid_points(64), axis=-1) - 0.35)

    def area(m) -> float:
        v, f = m.vertices.detach().cpu().double(), m.faces.cpu().long()
        return float(torch.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]], dim=1).norm(dim=1).sum() / 2)

    m0, t0 = timed(lambda: flexicubes(sdf))
    m1, t1 = timed(lambda: flexicubes(sdf.to(dev)))
    return {
        "faces cpu/device": f"{len(m0.faces)}/{len(m1.faces)}",
        "area cpu/device": f"{area(m0):.5f}/{area(m1):.5f}",
        "true area": f"{4 * np.pi * 0.35**2:.5f}",
        "cpu s": f"{t0:.3f}",
        "device s": f"{t1:.3f}",
    }


def check_sae(dev: torch.device) -> dict:
    from latentdreamer.models.trained_sae import decode_sdf, load_sae, sample_prior

    sae = load_sae(device="cpu")
    z = sample_prior(sae, 1, torch.Generator().manual_seed(0))
    with torch.no_grad():
        s0, t0 = timed(lambda: decode_sdf(sae, z))
        sae_dev = load_sae(device=dev)
        s1, t1 = timed(lambda: decode_sdf(sae_dev, z.to(dev)))
    s1 = s1.cpu()
    return {
        "max |sdf| diff": f"{float((s0 - s1).abs().max()):.2e}",
        "sign agreement": f"{float(((s0 < 0) == (s1 < 0)).float().mean()):.5f}",
        "cpu s": f"{t0:.3f}",
        "device s": f"{t1:.3f}",
    }


def check_generation(dev: torch.device, presets: list[str]) -> tuple[dict, dict]:
    from latentdreamer.api import GenerateSettings
    from latentdreamer.geometry.example_object import example_object
    from latentdreamer.metrics.geometry import evaluate_geometry
    from latentdreamer.pipeline.generate import generate_from_views
    from latentdreamer.pipeline.oracle_views import oracle_views

    truth, views = oracle_views(example_object(seed=7))
    device_name = "cuda" if dev.type == "cuda" else "cpu"
    r0, t0 = timed(lambda: generate_from_views(views, GenerateSettings(preset="tiny", device="cpu")))
    r1, t1 = timed(lambda: generate_from_views(views, GenerateSettings(preset="tiny", device=device_name)))
    iou = lambda a, b: evaluate_geometry(a, b, count=20000).volume_iou  # noqa: E731
    parity = {
        "IoU cpu": f"{iou(r0.mesh, truth):.3f}",
        "IoU device": f"{iou(r1.mesh, truth):.3f}",
        "IoU cpu vs device": f"{iou(r0.mesh, r1.mesh):.3f}",
        "cpu s": f"{t0:.2f}",
        "device s": f"{t1:.2f}",
    }
    timings = {}
    for preset in presets:
        r, t = timed(lambda: generate_from_views(views, GenerateSettings(preset=preset, device=device_name)))
        timings[preset] = f"{t:.1f} s, IoU {iou(r.mesh, truth):.3f}"
    return parity, timings


def check_sampler(dev: torch.device) -> dict:
    sys.path.insert(0, str(ROOT / "tests" / "backend" / "priors"))
    from latentdreamer.priors.zero123plus import Zero123Plus

    from tiny_diffusion import build_tiny_zero123plus

    with tempfile.TemporaryDirectory() as tmp:
        build_tiny_zero123plus(Path(tmp))
        dtype = torch.float16 if dev.type == "cuda" else torch.float32
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        model = Zero123Plus.load(
            Path(tmp) / "zero123plus-v1.2", Path(tmp) / "controlnet-zp12-normal-gen-v1", device=dev, dtype=dtype
        )
        cond = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
        out, t = timed(lambda: model.sample(cond, steps=4, width=32, height=48, seed=1))
        peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else float("nan")
    return {
        "dtype": str(dtype).replace("torch.", ""),
        "finite": str(bool(np.isfinite(out).all())),
        "range": f"{float(out.min()):.3f}..{float(out.max()):.3f}",
        "peak MiB": f"{peak:.1f}",
        "s": f"{t:.2f}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="tiny preset only (the CPU smoke test)")
    args = parser.parse_args()
    from latentdreamer.device import resolve_device
    from latentdreamer.render.rasterize import nvdiffrast_available

    dev = resolve_device(args.device)
    lines = [
        f"# GPU check: {torch.cuda.get_device_name(dev) if dev.type == 'cuda' else dev.type}",
        "",
        f"torch {torch.__version__}, CUDA {torch.version.cuda}; `benchmarks/gpu_check.py --device {args.device}`",
        "",
    ]
    sections = [("rasteriser, torch path vs CPU torch", lambda: check_rasteriser(dev, "torch"))]
    if dev.type == "cuda" and nvdiffrast_available():
        sections.append(("nvdiffrast vs CPU torch", lambda: check_rasteriser(dev, "nvdiffrast")))
    else:
        lines.append("nvdiffrast: not importable here (optional, non-commercial licence; not checked)\n")
    sections += [
        ("FlexiCubes, sphere at 64^3", lambda: check_flexicubes(dev)),
        ("SAE decode", lambda: check_sae(dev)),
        ("tiny Zero123++ sampler", lambda: check_sampler(dev)),
    ]
    ok = True
    for title, fn in sections:
        try:
            rows = fn()
        except Exception as exc:  # one failing check must not hide the others
            ok, rows = False, {"FAILED": f"{type(exc).__name__}: {exc}"}
        lines.append(f"## {title}\n\n" + "\n".join(f"- {k}: {v}" for k, v in rows.items()) + "\n")
        print(lines[-1], flush=True)
    timings: dict = {}
    try:
        parity, timings = check_generation(dev, [] if args.quick else ["tiny", "draft", "standard", "high"])
        lines.append("## whole tiny generation\n\n" + "\n".join(f"- {k}: {v}" for k, v in parity.items()) + "\n")
        if timings:
            lines.append("## presets on the device\n\n" + "\n".join(f"- {k}: {v}" for k, v in timings.items()) + "\n")
    except Exception as exc:
        ok = False
        lines.append(f"## generation\n\n- FAILED: {type(exc).__name__}: {exc}\n")
    print("\n".join(lines[-2:] if timings else lines[-1:]))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
