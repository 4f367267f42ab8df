"""The worker's wire format: one JSON object per line, requests in, events out (docs/protocol.md).

Requests are checked here, strictly and without touching the file system or heavy
libraries, so that a malformed request is answered at once with a precise `error` even
while a job runs. Unknown request fields are refused (a typo like a top-level `preset`
must not be silently ignored); clients, in turn, ignore event fields they do not know.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_VERSION = 1
"""Bumped on any change to requests or to the meaning of an event field; adding optional
event fields or new event types does not bump it. Client and worker must agree exactly."""

MAX_LINE_BYTES = 1 << 20
MAX_ID_LENGTH = 128
MAX_PROMPT_LENGTH = 1000
"""Longer text is not a prompt a text encoder reads (CLIP keeps 77 tokens)."""
NUM_VIEWS = 6

REQUEST_TYPES = ("generate", "cancel", "ping", "shutdown")

EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    # type -> required fields (besides "type"); "id" is the request id or null.
    "hello": ("protocol", "backend_version", "python", "torch", "pid", "jobs_dir", "log_file", "weights", "capabilities"),
    "device": ("torch", "device", "free_bytes", "total_bytes"),
    "queued": ("id", "position"),
    "progress": ("id", "stage", "step", "total", "fraction", "eta_s", "message"),
    "views": ("id", "rgb", "normals"),
    "preview": ("id", "stage", "path", "num_vertices", "num_faces"),
    "result": ("id", "path", "glb", "stats", "timings"),
    "cancelled": ("id", "stage", "path"),
    "error": ("id", "code", "message", "hint"),
    "pong": ("id", "running", "queued"),
    "ack": ("id", "job", "state"),
    "bye": ("id",),
}

TERMINAL_EVENTS = ("result", "cancelled", "error", "pong", "ack", "bye")
"""Each request id receives exactly one of these (generate: result/cancelled/error; ping:
pong; cancel: ack/error; shutdown: bye)."""

ERROR_CODES: dict[str, str] = {
    "bad_json": "the line is not a JSON object",
    "bad_request": "a field is missing, has the wrong type, or is not known",
    "unknown_request": "the request type is not one of generate, cancel, ping, shutdown",
    "duplicate_id": "a job with this id is already queued or running",
    "file_not_found": "an input path does not exist on the worker's machine",
    "not_an_image": "an input file is not an image Pillow can read",
    "image_too_large": "an input image has more pixels than the worker accepts",
    "invalid_input": "the inputs are images but not usable views (layout, sizes, count)",
    "queue_full": "too many jobs are waiting",
    "unknown_job": "cancel named a job that is not queued or running",
    "not_available": "this worker lacks the code for the requested kind of job",
    "weights_missing": "model weights needed for the job are not installed",
    "weights_corrupt": "a model weights file is damaged or does not match its model card (the message names it)",
    "out_of_memory": "the job ran out of memory, also after retrying at a lower preset",
    "device_unavailable": "the requested device cannot be used",
    "write_failed": "the job's files could not be written (disk full, jobs folder removed or not writable)",
    "internal": "an unexpected failure inside the worker (see its log)",
}

SETTINGS_TYPES: dict[str, type | tuple[type, ...]] = {
    "preset": str,
    "device": str,
    "seed": int,
    "texture": (bool, str),
    "preview_every": int,
}


class RequestError(Exception):
    """A request or job that must be answered with an `error` event."""

    def __init__(self, code: str, message: str, hint: str = "", request_id: str | None = None) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.request_id = request_id

    def event(self) -> dict[str, Any]:
        return make_event("error", self.request_id, code=self.code, message=self.message, hint=self.hint)


@dataclass(frozen=True)
class ImageSource:
    """Six views as one grid image or six files (paths as sent, resolved by the worker)."""

    grid: str | None = None
    files: tuple[str, ...] | None = None

    def paths(self) -> tuple[str, ...]:
        return (self.grid,) if self.grid is not None else tuple(self.files or ())


@dataclass(frozen=True)
class GenerateRequest:
    id: str
    image: str | None = None
    prompt: str | None = None
    views: ImageSource | None = None
    normals: ImageSource | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    glb: bool = False

    def input_paths(self) -> tuple[str, ...]:
        if self.prompt is not None:
            return ()
        if self.image is not None:
            return (self.image,)
        assert self.views is not None
        return self.views.paths() + (self.normals.paths() if self.normals else ())


@dataclass(frozen=True)
class Request:
    type: str
    id: str
    job: str | None = None
    generate: GenerateRequest | None = None


def parse_line(line: bytes | str) -> Request:
    """One request line -> a checked `Request`; raises `RequestError` with the id when known."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError("bad_json", f"request is not valid JSON: {exc}", "send one JSON object per line") from None
    if not isinstance(obj, dict):
        raise RequestError("bad_json", f"request must be a JSON object, got {type(obj).__name__}")
    raw_id = obj.get("id")
    request_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= MAX_ID_LENGTH else None
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise RequestError("bad_request", "request has no string field 'type'", request_id=request_id)
    if request_id is None:
        raise RequestError(
            "bad_request",
            f"request {kind!r} needs an 'id': a string of 1 to {MAX_ID_LENGTH} characters",
            "every request carries an id the answer will repeat",
        )
    if kind not in REQUEST_TYPES:
        raise RequestError(
            "unknown_request", f"unknown request type {kind!r}", f"use one of {', '.join(REQUEST_TYPES)}", request_id
        )
    try:
        if kind == "generate":
            return Request(kind, request_id, generate=_parse_generate(obj, request_id))
        if kind == "cancel":
            _only(obj, {"type", "id", "job"})
            job = obj.get("job")
            if not isinstance(job, str) or not job:
                raise ValueError("cancel needs 'job': the id of the generate request to cancel")
            return Request(kind, request_id, job=job)
        _only(obj, {"type", "id"})
        return Request(kind, request_id)
    except ValueError as exc:
        raise RequestError("bad_request", str(exc), request_id=request_id) from None


def _only(obj: dict, allowed: set[str]) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise ValueError(f"unknown field(s) {', '.join(extra)} in {obj['type']!r}; allowed: {', '.join(sorted(allowed))}")


def _parse_generate(obj: dict, request_id: str) -> GenerateRequest:
    _only(obj, {"type", "id", "image", "prompt", "views", "normals", "settings", "glb"})
    image, prompt, views = obj.get("image"), obj.get("prompt"), obj.get("views")
    if sum(x is not None for x in (image, prompt, views)) != 1:
        raise ValueError(
            "generate needs exactly one of 'image' (one path), 'prompt' (text) or "
            "'views' ({'grid': path} or {'files': [6 paths]})"
        )
    if image is not None and not _is_path(image):
        raise ValueError("'image' must be a non-empty path string")
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT_LENGTH):
        raise ValueError(f"'prompt' must be a non-empty text of at most {MAX_PROMPT_LENGTH} characters")
    normals = obj.get("normals")
    if normals is not None and views is None:
        raise ValueError("'normals' go with 'views'; a single image gets its normals from the prior")
    settings = obj.get("settings", {})
    if not isinstance(settings, dict):
        raise ValueError("'settings' must be an object")
    for key, value in settings.items():
        expected = SETTINGS_TYPES.get(key)
        if expected is None:
            raise ValueError(f"unknown setting {key!r}; allowed: {', '.join(SETTINGS_TYPES)}")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValueError(f"setting {key!r} must be {_type_words(expected)}, got {json.dumps(value)}")
    glb = obj.get("glb", False)
    if not isinstance(glb, bool):
        raise ValueError("'glb' must be true or false")
    return GenerateRequest(
        id=request_id,
        image=image,
        prompt=prompt,
        views=_parse_source(views, "views") if views is not None else None,
        normals=_parse_source(normals, "normals") if normals is not None else None,
        settings=dict(settings),
        glb=glb,
    )


def _type_words(expected: type | tuple[type, ...]) -> str:
    """'int', or 'bool or str' for a setting that takes either (texture: true/false/"uv"/"vertex")."""
    kinds = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(k.__name__ for k in kinds)


def _parse_source(value: Any, name: str) -> ImageSource:
    if not isinstance(value, dict) or len(value) != 1 or not ({"grid", "files"} & set(value)):
        raise ValueError(f"'{name}' must be {{'grid': path}} or {{'files': [{NUM_VIEWS} paths]}}")
    if "grid" in value:
        if not _is_path(value["grid"]):
            raise ValueError(f"'{name}.grid' must be a non-empty path string")
        return ImageSource(grid=value["grid"])
    files = value["files"]
    if not isinstance(files, list) or len(files) != NUM_VIEWS or not all(_is_path(p) for p in files):
        raise ValueError(f"'{name}.files' must be a list of {NUM_VIEWS} path strings in camera order")
    return ImageSource(files=tuple(files))


def _is_path(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "\0" not in value


def make_event(kind: str, request_id: str | None, **fields: Any) -> dict[str, Any]:
    """An event dict with the fields its type requires (checked: a missing one is a worker bug)."""
    missing = [name for name in EVENT_FIELDS[kind] if name != "id" and name not in fields]
    assert not missing, f"event {kind} lacks {missing}"
    return {"type": kind, "id": request_id, **fields}


def encode_event(event: dict[str, Any]) -> str:
    """One line of strict JSON: NaN and infinities (an ETA not known yet) become null."""
    return json.dumps(_finite(event), ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
