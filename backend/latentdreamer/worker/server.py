"""`latentdreamer worker`: the request loop (stdin) and the process's life cycle.

The main thread reads and answers requests; jobs run on the runner's thread. The worker
ends when stdin closes (the client went away: no orphan survives its parent), on a
`shutdown` request, or on SIGTERM/SIGHUP/SIGINT; in every case queued and running jobs get
their `cancelled` event and a temporary jobs folder is removed.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import logging.handlers
import os
import signal
import sys
from pathlib import Path

from latentdreamer.locations import Locations

log = logging.getLogger("latentdreamer.worker")

DEFAULT_LOG_FILE = "~/.cache/latentdreamer/worker.log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs-dir",
        type=Path,
        default=None,
        help="keep job folders here, also after exit (default: a temporary folder removed at exit)",
    )
    parser.add_argument("--keep-jobs", type=_positive, default=4, help="job folders to keep, the running one included")
    parser.add_argument("--max-queue", type=_positive, default=8, help="jobs that may wait behind the running one")
    parser.add_argument("--log-file", default=DEFAULT_LOG_FILE, help="log file besides stderr ('' for none)")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING"))
    parser.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="do not load and compile the pipeline ahead of the first job (on by default "
        "with the built-in pipeline: the first job then runs as fast as later ones)",
    )
    parser.add_argument(
        "--no-probe",
        dest="probe",
        action="store_false",
        help="do not load torch at start-up to report the device (the first job does)",
    )
    parser.add_argument(
        "--grace", type=float, default=10.0, help="seconds a running job gets to stop at shutdown before the worker exits anyway"
    )
    parser.add_argument(
        "--models-dir", default=None, help="folder of prior weights (default: $LATENTDREAMER_MODELS, else the Hugging Face cache)"
    )
    parser.add_argument(
        "--pipeline",
        default=None,
        help="MODULE:FUNCTION that runs one job instead of the LatentDreamer pipeline (a test seam: the add-on's "
        "tests drive a real worker with stand-in pipelines)",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    return serve(args)


class _Terminated(Exception):
    pass


def _on_signal(signum, frame) -> None:
    raise _Terminated(signal.Signals(signum).name)


def setup_logging(log_file: str, level: str) -> Path | None:
    """Logs to stderr and, when it can be written, to `log_file`; returns the file used."""
    logger = logging.getLogger("latentdreamer")
    logger.setLevel(level)
    formatter = logging.Formatter(f"%(asctime)s worker[{os.getpid()}] %(levelname)s %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    path = Path(log_file).expanduser().resolve() if log_file else None
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=2, encoding="utf-8"))
        except OSError as exc:
            print(f"cannot write the log file {path}: {exc}", file=sys.stderr)
            path = None
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logging.getLogger("py.warnings").addHandler(handler)
    logging.captureWarnings(True)
    return path


def serve(args: argparse.Namespace) -> int:
    # Claim the pipes before anything else can print.
    from latentdreamer.worker.stdio import EventWriter, claim_stdio, read_requests

    requests, protocol = claim_stdio()
    log_path = setup_logging(args.log_file, args.log_level)
    faulthandler.enable(sys.stderr)  # a crash in native code leaves its stack in the client's error
    # The environment, read once here at the edge: the hello and every job use this value.
    locations = Locations.from_environment(models_dir=args.models_dir)

    from latentdreamer.worker.environment import DeviceReport, hello_event
    from latentdreamer.worker.execute import (
        capabilities,
        execute,
        finish_warm_up,
        load_execute,
        release_models,
        start_warm_up,
        use_models,
    )
    from latentdreamer.worker.jobs import JobRunner, release_memory
    from latentdreamer.worker.results import JobFolders

    use_models(locations)
    try:
        run_one = execute if args.pipeline is None else load_execute(args.pipeline)
    except (ImportError, AttributeError, ValueError) as exc:
        log.error("cannot load the pipeline %s: %s", args.pipeline, exc)
        return 2
    writer = EventWriter(protocol)
    try:
        folders = JobFolders(args.jobs_dir, args.keep_jobs)
    except OSError as exc:
        log.error("cannot use %s as the jobs folder: %s", args.jobs_dir or "a temporary folder", exc)
        return 2
    device = DeviceReport(writer.emit)
    runner = JobRunner(
        run_one,
        writer.emit,
        folders,
        args.max_queue,
        on_step=device.report_if_loaded,
        release=lambda: (release_models(), release_memory()),
    )
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _on_signal)

    log.info("worker %s started; jobs in %s", os.getpid(), folders.root)
    # A --pipeline replacement is trusted to take every input; ours says what it has.
    pipeline = capabilities() if args.pipeline is None else {"inputs": ["views", "image"], "pipeline": True}
    writer.emit(hello_event(folders.root, log_path, args.max_queue, pipeline, locations))
    if args.probe:
        device.start_probe()
    if args.probe and args.warm_up and args.pipeline is None:
        start_warm_up()  # --no-probe promises no torch at start-up: no warm-up either

    shutdown_id = None
    reason = "stdin closed"
    try:
        for line in read_requests(requests):
            shutdown_id = handle_line(line, runner, writer)
            if shutdown_id is not None:
                reason = "shutdown requested"
                break
    except (_Terminated, KeyboardInterrupt) as exc:
        reason = f"signal {exc}"
    finally:
        for name in ("SIGTERM", "SIGHUP", "SIGINT"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_IGN)
        log.info("stopping (%s)", reason)
        finish_warm_up()  # stops at its next step: never left running in native code at exit
        stopped = runner.stop(args.grace)
        folders.close()
        if shutdown_id is not None:
            from latentdreamer.worker.protocol import make_event

            writer.emit(make_event("bye", shutdown_id))
    if not stopped:
        # A job stuck in native code cannot be interrupted; do not let it keep the process alive.
        log.warning("the running job did not stop within %.0f s; exiting anyway", args.grace)
        logging.shutdown()
        os._exit(0)
    return 0


def handle_line(line: bytes | None, runner, writer) -> str | None:
    """Answers one request line; returns the request id when it was `shutdown`."""
    from latentdreamer.worker.protocol import MAX_LINE_BYTES, RequestError, make_event, parse_line

    request_id = None
    try:
        if line is None:
            raise RequestError(
                "bad_request", f"request line longer than {MAX_LINE_BYTES} bytes", "large data travels as files; send their paths"
            )
        request = parse_line(line)
        request_id = request.id
        if request.type == "ping":
            running, queued = runner.status()
            writer.emit(make_event("pong", request.id, running=running, queued=queued))
        elif request.type == "cancel":
            state = runner.cancel(request.job)
            writer.emit(make_event("ack", request.id, job=request.job, state=state))
        elif request.type == "generate":
            from latentdreamer.worker.input_files import check_images

            generate = request.generate
            settings = _settings(generate.settings, request.id)
            check_images(generate.input_paths(), request.id)
            runner.submit(generate, settings)
        elif request.type == "shutdown":
            return request.id
    except RequestError as exc:
        if exc.request_id is None:
            exc.request_id = request_id
        writer.emit(exc.event())
    except Exception as exc:  # a bug answering one request must not end the worker
        log.exception("request failed")
        writer.emit(
            make_event(
                "error",
                request_id,
                code="internal",
                message=f"{type(exc).__name__}: {exc}",
                hint="this is a bug in the backend; the worker log has the traceback",
            )
        )
    return None


def _settings(values: dict, request_id: str):
    from latentdreamer.api import GenerateSettings
    from latentdreamer.worker.protocol import RequestError

    try:
        return GenerateSettings(**values)
    except ValueError as exc:  # SettingsError: the same message and hint as the CLI's
        raise RequestError(
            "bad_request", getattr(exc, "message", str(exc)), getattr(exc, "hint", ""), request_id=request_id
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m latentdreamer.worker", description="LatentDreamer backend worker: JSON lines on stdin/stdout."
    )
    add_arguments(parser)
    return serve(parser.parse_args(argv))
