"""What the worker tells the client about itself: the cheap `hello` and the slower `device` event.

`hello` must arrive fast (the add-on waits for it), so it reads versions from package
metadata and looks for modules without importing them. Importing torch to name the device
takes seconds, so that is the separate `device` event, sent once torch is loaded: by a
background probe at start-up, or by the first job.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from latentdreamer import __version__
from latentdreamer.api import PRESETS
from latentdreamer.locations import Locations
from latentdreamer.worker.input_files import MAX_PIXELS
from latentdreamer.worker.protocol import PROTOCOL_VERSION, make_event

log = logging.getLogger("latentdreamer.worker")


def shape_weights_status(locations: Locations) -> dict[str, dict[str, Any]]:
    """SAE and LIN, found and checked exactly as a job loads them (pipeline/shape_prior.py),
    so `hello` never reports weights a job would then refuse or drop.

    `present`: the file is there and matches its model card's sha256 (a few milliseconds);
    `error`: why a file that is there (or was named explicitly) cannot be used, with the
    fix, else null. Without shipped weights the pipeline still runs, from the visual hull.
    """
    from latentdreamer.models.weights_file import WeightsError
    from latentdreamer.pipeline.shape_prior import check_weights_file, locate_shape_weights

    status = {}
    for loc in locate_shape_weights(locations):
        try:
            present, error = check_weights_file(loc), None
        except WeightsError as exc:
            present, error = False, f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message
        status[loc.name] = {"present": present, "path": str(loc.path), "source": loc.source, "licence": None, "error": error}
    return status


def weights_status(locations: Locations) -> dict[str, dict[str, Any]]:
    """Each model: present or not, where, and its licence (null: the project's own); nothing is loaded."""
    status = shape_weights_status(locations)
    try:
        from latentdreamer.priors.model_store import MODELS, model_status
    except ImportError:
        return status
    for name, spec in MODELS.items():
        st = model_status(spec, locations)
        status[name] = {
            "present": st.complete,
            "path": str(st.path) if st.path else None,
            "source": st.source,
            "licence": spec.licence,
        }
    return status


def hello_event(
    jobs_dir: Path, log_file: Path | None, max_queue: int, pipeline_capabilities: dict[str, Any], locations: Locations
) -> dict[str, Any]:
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    capabilities = {
        "presets": list(PRESETS),
        **pipeline_capabilities,
        "outputs": ["npz", "glb"],
        "max_pixels": MAX_PIXELS,
        "max_queue": max_queue,
    }
    return make_event(
        "hello",
        None,
        protocol=PROTOCOL_VERSION,
        backend_version=__version__,
        python=platform.python_version(),
        torch=torch_version,
        pid=os.getpid(),
        jobs_dir=str(jobs_dir),
        log_file=str(log_file) if log_file else None,
        weights=weights_status(locations),
        capabilities=capabilities,
    )


class DeviceReport:
    """Sends the `device` event exactly once, from whichever thread loads torch first."""

    def __init__(self, emit: Callable[[dict[str, Any]], None]) -> None:
        self._emit = emit
        self._lock = threading.Lock()
        self._done = False

    def report_if_loaded(self) -> None:
        """Cheap enough for every progress step: reports as soon as some job has loaded torch."""
        if not self._done and "torch" in sys.modules:
            self.report()

    def start_probe(self) -> None:
        threading.Thread(target=self.report, name="latentdreamer-probe", daemon=True).start()

    def report(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            try:
                import torch

                from latentdreamer.device import describe_device, resolve_device

                device = describe_device(resolve_device("auto"))
                free, total = device.get("free_bytes"), device.get("total_bytes")
                if free is None:
                    free, total = host_memory()
                event = make_event("device", None, torch=torch.__version__, device=device, free_bytes=free, total_bytes=total)
            except Exception as exc:  # a broken torch install must not kill the worker
                log.exception("device probe failed")
                event = make_event(
                    "device",
                    None,
                    torch=None,
                    device=None,
                    free_bytes=None,
                    total_bytes=None,
                    error=f"{type(exc).__name__}: {exc}",
                )
        self._emit(event)


def host_memory() -> tuple[int | None, int | None]:
    """(available, total) bytes of RAM from /proc/meminfo; (None, None) where there is none."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        return int(fields["MemAvailable"].split()[0]) * 1024, int(fields["MemTotal"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None, None
