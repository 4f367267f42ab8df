"""Owning the pipes: the protocol gets private copies of fd 0 and fd 1, everything else gets stderr.

Libraries print (tqdm bars, warnings, C extensions writing straight to fd 1); a single
stray byte on stdout would corrupt the protocol. So at start-up the real stdout is
duplicated for the protocol and fd 1 is pointed at stderr, which catches Python-level and
C-level writes alike. Stdin gets the same treatment (fd 0 -> /dev/null) so a child
process or library can never swallow a request.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, BinaryIO, TextIO

from latentdreamer.worker.protocol import MAX_LINE_BYTES, encode_event

log = logging.getLogger("latentdreamer.worker")


def claim_stdio() -> tuple[BinaryIO, TextIO]:
    """Returns (request stream, protocol stream); afterwards fd 0 reads nothing and fd 1 is stderr."""
    sys.stdout.flush()
    requests_fd = os.dup(0)
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull, encoding="utf-8")
    requests = os.fdopen(requests_fd, "rb")
    protocol = os.fdopen(protocol_fd, "w", encoding="utf-8", newline="\n")
    return requests, protocol


def read_requests(stream: BinaryIO):
    """Yields request lines (bytes) until EOF; an over-long line is yielded as None and skipped."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # discard the rest of the line
                line = stream.readline(MAX_LINE_BYTES)
            yield None
            continue
        if line.strip():
            yield line


class EventWriter:
    """Thread-safe writer of protocol lines; a closed pipe (client gone) is remembered, not raised."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.broken = False

    def emit(self, event: dict[str, Any]) -> None:
        line = encode_event(event)
        with self._lock:
            if self.broken:
                return
            try:
                self._stream.write(line)
                self._stream.flush()
            except (OSError, ValueError) as exc:  # EPIPE, or the stream closed at exit
                self.broken = True
                log.warning("cannot write to the client any more (%s); events are dropped", exc)
                return
        if event["type"] != "progress":
            log.debug("-> %s", line.rstrip())
