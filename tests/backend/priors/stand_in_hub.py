"""A local stand-in for the Hugging Face hub (and for a release-asset host), for tests.

Stdlib only, so both the backend's tests and the add-on's (in Blender's Python) can start
it. It serves model folders from disk under the endpoints `huggingface_hub.snapshot_download`
calls (read from huggingface_hub's own source, the versions we support):

- `GET /api/models/{repo}[/revision/{rev}]`: model info with `sha` (the commit) and `siblings`
  (what huggingface_hub < 1.0 lists files from);
- `GET /api/models/{repo}/tree/{rev}?recursive=...`: the file listing newer versions use, with
  each file's git blob id and, for large files, `lfs: {oid: sha256, size, pointerSize}`;
- `HEAD|GET /{repo}/resolve/{rev}/{path}`: the file, with `X-Repo-Commit`, `ETag` (the LFS
  SHA-256 for large files, the git blob SHA-1 for small ones, as the hub does),
  `X-Linked-Etag`/`X-Linked-Size` for large files, `Content-Length`, and `Range` support;
- any other path registered with `add_file` (e.g. rembg's release asset), as plain bytes.

It binds 127.0.0.1 on a free port only, and records every request it answered (`requests`).
`tiny_u2net_onnx()` writes a u2net stand-in: a valid ONNX graph (max over the colour
channels of the normalised image) with u2net's input and output shapes.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".onnx", ".bin")
TINY_REPOS = {  # model name -> (hub repository, models-folder sub-folder, the stand-in's commit)
    "zero123plus": ("sudo-ai/zero123plus-v1.2", "zero123plus-v1.2", "1" * 40),
    "normal-controlnet": ("sudo-ai/controlnet-zp12-normal-gen-v1", "controlnet-zp12-normal-gen-v1", "2" * 40),
}
U2NET_PATH = "danielgatis/rembg/releases/download/v0.0.0/u2net.onnx"


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    folder: Path
    commit: str
    files: dict[str, bytes] = field(default_factory=dict)

    def load(self) -> None:
        self.files = {str(p.relative_to(self.folder)): p.read_bytes() for p in sorted(self.folder.rglob("*")) if p.is_file()}


class StandInHub:
    """`with StandInHub() as hub: hub.add_repo(...); os.environ["HF_ENDPOINT"] = hub.url`."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.plain: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                hub._answer(self, head=True)

            def do_GET(self) -> None:
                hub._answer(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="stand-in-hub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_repo(self, repo_id: str, folder: Path, commit: str) -> None:
        repo = Repo(Path(folder), commit)
        repo.load()
        self.repos[repo_id] = repo

    def add_file(self, path: str, data: bytes) -> str:
        """Serve `data` at `path`; returns its full URL."""
        self.plain["/" + path.lstrip("/")] = data
        return self.url + "/" + path.lstrip("/")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # ---- answers

    def _repo_of(self, rest: str) -> tuple[str, Repo, str] | None:
        for repo_id, repo in self.repos.items():
            if rest == repo_id or rest.startswith(repo_id + "/"):
                return repo_id, repo, rest[len(repo_id) :].lstrip("/")
        return None

    def _send(self, h: BaseHTTPRequestHandler, code: int, body: bytes, headers: dict[str, str], head: bool) -> None:
        h.send_response(code)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _json(self, h, value, head: bool, code: int = 200, extra: dict | None = None) -> None:
        self._send(h, code, json.dumps(value).encode(), {"Content-Type": "application/json", **(extra or {})}, head)

    def _not_found(self, h, head: bool, code: str = "EntryNotFound", commit: str | None = None) -> None:
        extra = {"X-Error-Code": code, "X-Error-Message": code}
        if commit:
            extra["X-Repo-Commit"] = commit
        self._json(h, {"error": code}, head, code=404, extra=extra)

    def _answer(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        parsed = urlparse(h.path)
        path = unquote(parsed.path)
        self.requests.append((h.command, path))
        if path in self.plain:
            return self._send(h, 200, self.plain[path], {"Content-Type": "application/octet-stream"}, head)
        if path.startswith("/api/models/"):
            found = self._repo_of(path[len("/api/models/") :])
            if found is None:
                return self._not_found(h, head, "RepoNotFound")
            repo_id, repo, rest = found
            m = re.fullmatch(r"(?:(revision|tree)/([^/]+)(?:/(.*))?)?", rest)
            if m is None:
                return self._not_found(h, head)
            kind, rev = m.group(1), m.group(2)
            if rev is not None and rev not in (repo.commit, "main"):
                return self._not_found(h, head, "RevisionNotFound")
            if kind == "tree":
                return self._json(h, self._tree(repo), head)
            return self._json(
                h,
                {
                    "id": repo_id,
                    "modelId": repo_id,
                    "sha": repo.commit,
                    "private": False,
                    "siblings": [{"rfilename": f} for f in repo.files],
                    "tags": [],
                    "downloads": 0,
                    "likes": 0,
                },
                head,
            )
        found = self._repo_of(path.lstrip("/"))
        if found is not None:
            repo_id, repo, rest = found
            m = re.fullmatch(r"resolve/([^/]+)/(.+)", rest)
            if m is None:
                return self._not_found(h, head)
            rev, file = m.groups()
            if rev not in (repo.commit, "main"):
                return self._not_found(h, head, "RevisionNotFound")
            if file not in repo.files:
                return self._not_found(h, head, "EntryNotFound", repo.commit)
            return self._file(h, repo, file, head)
        return self._not_found(h, head, "RepoNotFound")

    def _tree(self, repo: Repo) -> list[dict]:
        entries = []
        for name, data in repo.files.items():
            entry = {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": name}
            if name.endswith(LFS_SUFFIXES):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            entries.append(entry)
        return entries

    def _file(self, h: BaseHTTPRequestHandler, repo: Repo, name: str, head: bool) -> None:
        data = repo.files[name]
        headers = {"X-Repo-Commit": repo.commit, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if name.endswith(LFS_SUFFIXES):
            digest = hashlib.sha256(data).hexdigest()
            headers |= {"ETag": f'"{digest}"', "X-Linked-Etag": f'"{digest}"', "X-Linked-Size": str(len(data))}
        else:
            headers["ETag"] = f'"{git_blob_sha1(data)}"'
        code, body = 200, data
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", h.headers.get("Range", "") or "")
        if ranged and not head:
            start = int(ranged.group(1))
            end = int(ranged.group(2)) if ranged.group(2) else len(data) - 1
            code, body = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self._send(h, code, body, headers, head)


def serve_tiny_models(hub: StandInHub, tiny_models: Path, u2net: Path) -> dict:
    """Serve the tiny model folders (tests/backend/priors/tiny_diffusion.py) as the hub's
    repositories at the stand-in's own commits and the u2net stand-in at rembg's release
    path; returns the LATENTDREAMER_PINS content that pins exactly those commits and files,
    as a studio pins its own mirror."""
    pins = {}
    for name, (repo_id, folder, commit) in TINY_REPOS.items():
        hub.add_repo(repo_id, tiny_models / folder, commit)
        pins[name] = {
            "revision": commit,
            "sha256": {
                str(p.relative_to(tiny_models / folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted((tiny_models / folder).rglob("*"))
                if p.is_file()
            },
        }
    url = hub.add_file(U2NET_PATH, u2net.read_bytes())
    pins["background-removal"] = {"url": url, "sha256": {"u2net.onnx": hashlib.sha256(u2net.read_bytes()).hexdigest()}}
    return pins


# ---- a u2net stand-in in ONNX (hand-encoded protobuf: no onnx package needed)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, shape: tuple[int, ...]) -> bytes:
    dims = b"".join(_field(1, _field(1, d)) for d in shape)  # TensorShapeProto.dim { dim_value }
    tensor = _field(1, 1) + _field(2, dims)  # elem_type FLOAT, shape
    return _field(1, name) + _field(2, _field(1, tensor))  # name, type { tensor_type }


def tiny_u2net_onnx(path: Path) -> Path:
    """A valid ONNX model with u2net's interface: input (1, 3, 320, 320) float, first output
    (1, 1, 320, 320) = the maximum over the colour channels (bright object, dark background
    gives a usable mask after rembg's min-max normalisation)."""
    axes = _field(1, "axes") + _field(8, 1) + _field(20, 7)  # AttributeProto name, ints [1], type INTS
    keep = _field(1, "keepdims") + _field(3, 1) + _field(20, 2)  # i 1, type INT
    node = (
        _field(1, "input.1") + _field(2, "mask") + _field(3, "max") + _field(4, "ReduceMax") + _field(5, axes) + _field(5, keep)
    )
    graph = (
        _field(1, node)
        + _field(2, "u2net-stand-in")
        + _field(11, _value_info("input.1", (1, 3, 320, 320)))
        + _field(12, _value_info("mask", (1, 1, 320, 320)))
    )
    model = _field(1, 7) + _field(2, "latentdreamer-tests") + _field(7, graph) + _field(8, _field(1, "") + _field(2, 13))
    path.write_bytes(model)
    return path
