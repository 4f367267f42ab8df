"""Client for the LatentDreamer backend worker: standard library only, safe inside Blender.

The worker is a separate process started from a command line; requests go to its stdin
and events come back on its stdout, one JSON object per line (docs/protocol.md). Because
the transport is plain pipes, the same client drives a worker on another machine:

    BackendClient(["ssh", "gpu-box", "latentdreamer", "worker"])

(paths in requests and events are then paths on gpu-box: share a folder at the same path).

API
---
``BackendClient(command=None, env=None, cwd=None, hello_timeout=120.0)``
    ``command`` defaults to ``[python, "-m", "latentdreamer.worker"]`` with ``python`` from
    ``$LATENTDREAMER_BACKEND_PYTHON`` (else this interpreter); ``env`` holds variables added
    to the current environment. Nothing starts until ``start()`` or the first request.
``start() -> dict``
    Starts the worker and waits for its ``hello`` (raises ``WorkerStartError`` when it exits
    or stays silent, ``ProtocolMismatchError`` when it speaks another protocol version).
``generate(**params) -> str``, ``cancel(job_id) -> str``, ``ping() -> str``
    Send a request (starting or restarting the worker when needed, so they raise what
    ``start()`` raises; ``cancel`` never starts one) and return its id. ``params`` are the generate request's fields:
    ``image=``, ``views=``, ``normals=``, ``settings=``, ``glb=``; a value JSON cannot
    carry raises ``TypeError`` here, everything else is checked by the worker.
``poll() -> list[dict]``
    Every event received so far, without blocking: call it from a Blender timer. A
    ``hello`` arrives after every (re)start. Read events from one thread only.
``iter_events(request_id=None, timeout=None)``
    Blocking iterator for scripts; with ``request_id`` it yields that request's events (and
    worker-wide ones, id None) and stops after its terminal event; other events wait for
    ``poll()``. Raises ``TimeoutError`` when no event comes for ``timeout`` seconds.
``close(timeout=15.0)``
    Asks the worker to shut down (its jobs end ``cancelled``), waits, then terminates/kills
    it; joins the reader threads (Blender hangs at exit on leftover threads). Idempotent;
    a later request starts a new worker.
``hello``, ``device`` (the latest ``hello``/``device`` events), ``pid``, ``running``,
``stderr_tail()`` (the worker's last log lines).

Every request id receives exactly one terminal event (``TERMINAL_EVENTS``), also when the
worker dies: the client then emits ``{"type": "error", "code": "worker_died", ...}`` for
each unanswered request, with the exit code and the worker's last stderr lines, and the
next request starts a fresh worker.
"""

from .backend_client import (
    PROTOCOL_VERSION,
    TERMINAL_EVENTS,
    BackendClient,
    BackendError,
    ProtocolMismatchError,
    WorkerStartError,
    default_command,
)

__all__ = [
    "PROTOCOL_VERSION",
    "TERMINAL_EVENTS",
    "BackendClient",
    "BackendError",
    "ProtocolMismatchError",
    "WorkerStartError",
    "default_command",
]
