"""Fault injection: bad inputs and faults driven through `latentdreamer generate` / `eval` and
`latentdreamer worker` as a user (or a pipeline) drives them: subprocesses, real files in a
temporary folder, signals, a full disk (a small tmpfs where this process may mount one, a
file size limit everywhere else; see fault_support).

Every case is one line of CASES: its name, what runs (CLI arguments, one worker request, or
a scenario function for what takes several steps), what must come out (an exit status or an
event `code`), words the message must contain, and optionally a set-up and a check of the
state afterwards. Every case also asserts, without being told: no traceback anywhere, a
message with a hint (what to do), no temporary or part files left, no process left behind,
and the output path absent — or, where an earlier file was there, byte for byte intact.

Placeholders in arguments and requests: {dir} is the case's own folder, {out} its output
path ({dir}/out.glb), {NAME} an asset's path and @NAME an asset that is a list of paths
(six views). Fast cases run two at a time in one fixture; the few that need a whole
(tiny) generation share one earlier result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from fault_support import (
    Outcome,
    Worker,
    copy_weights,
    corner_disk_view,
    debris,
    degenerate_obj,
    flip_byte,
    generate_request,
    grid_of,
    huge_png,
    kill_quietly,
    mixed_colour_glb,
    pid_alive,
    processes_mentioning,
    run_cli,
    six,
    square_mask_view,
    textured_and_plain_glb,
    tmpfs_or_none,
    wait_for,
    write_rgba,
)

MAX_SEED = 2**63 - 1
VIEW_SIZE = 320


@dataclass(frozen=True)
class Case:
    name: str
    run: list[str] | dict | Callable[[Ctx], Outcome]
    """CLI arguments (after `latentdreamer`), one worker request, or a scenario."""
    expect: int | str
    """Exit status, or the terminal event's `code` ("result" for success)."""
    says: tuple[str, ...] = ()
    setup: Callable[[Ctx], None] | None = None
    check: Callable[[Ctx, Outcome], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    hint: bool = True
    """Our messages always carry a hint; argparse's usage errors do not."""

    @property
    def kind(self) -> str:
        return "cli" if isinstance(self.run, list) else "worker" if isinstance(self.run, dict) else "scenario"


@dataclass
class Ctx:
    dir: Path
    assets: dict
    earlier: bytes | None = None
    notes: dict = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.dir / "out.glb"

    def expand(self, value):
        """Placeholders filled in (see the module docstring)."""
        if isinstance(value, dict):
            return {k: self.expand(v) for k, v in value.items()}
        if isinstance(value, list):
            items = []
            for v in value:
                if isinstance(v, str) and v.startswith("@"):
                    items.extend(self.assets[v[1:]])
                else:
                    items.append(self.expand(v))
            return items
        if isinstance(value, str):
            if value.startswith("@"):
                return list(self.assets[value[1:]])
            return value.format(dir=self.dir, out=self.out, **{k: v for k, v in self.assets.items() if isinstance(v, str)})
        return value


# --- set-ups and checks used by the table ---------------------------------------------------------


def earlier_output(ctx: Ctx) -> None:
    """A good mesh from an earlier run is at the output path; the case must not harm it."""
    shutil.copyfile(ctx.assets["good"], ctx.out)
    ctx.earlier = ctx.out.read_bytes()


def file_at(name: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        (ctx.dir / name).write_text("a file, not a folder\n")

    return setup


def folder_at(name: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        (ctx.dir / name).mkdir(parents=True)

    return setup


def earlier_views(ctx: Ctx) -> None:
    views = ctx.dir / "out_views"
    views.mkdir()
    for f in ctx.assets["rgb"]:
        shutil.copy(f, views)
    ctx.notes["views"] = {p.name: p.read_bytes() for p in views.iterdir()}


def views_untouched(ctx: Ctx, outcome: Outcome) -> None:
    views = ctx.dir / "out_views"
    assert {p.name: p.read_bytes() for p in views.iterdir()} == ctx.notes["views"]


def views_written(ctx: Ctx, outcome: Outcome) -> None:
    names = sorted(p.name for p in (ctx.dir / "out_views").iterdir())
    assert names == sorted([f"rgb_{k}.png" for k in range(6)] + [f"normal_{k}.png" for k in range(6)]), names


def loads_as_mesh(ctx: Ctx, outcome: Outcome) -> None:
    from latentdreamer.io.mesh_io import load_mesh

    mesh = load_mesh(ctx.out)
    assert mesh.num_faces > 100
    if ctx.earlier is not None:
        assert ctx.out.read_bytes() != ctx.earlier  # replaced, as --overwrite asked


def eval_report_written(ctx: Ctx, outcome: Outcome) -> None:
    report = json.loads((ctx.dir / "report" / "sae_eval.json").read_text())
    assert report["meshes"]["objects"][0]["name"] == "degenerate"


def stale_stage_removed_by_next_run(ctx: Ctx, outcome: Outcome) -> None:
    """A killed run leaves its staging folder (nothing can run at SIGKILL); the next run in that
    folder removes it, and the earlier output was never touched."""
    left = [p for p in ctx.dir.iterdir() if ".part" in p.name]
    assert left, "the killed run had no staging folder to leave (killed too early?)"
    again = run_cli(["generate", "--views", str(ctx.dir / "missing.png"), "-o", str(ctx.out), "--overwrite"], ctx.dir)
    assert again.code == 2 and "not found" in again.err
    assert not [p for p in ctx.dir.iterdir() if ".part" in p.name]
    ctx.notes["debris_allowed"] = False


def signal_during_run(sig: int) -> Callable[[Ctx], Outcome]:
    """A full generate run stopped by `sig` once it is working (its staging folder exists)."""

    def scenario(ctx: Ctx) -> Outcome:
        earlier_output(ctx)

        def busy() -> bool:
            return any(".part" in p.name for p in ctx.dir.iterdir()) and time.sleep(0.5) is None

        args = [
            "generate",
            "--from-mesh",
            ctx.assets["mesh"],
            "-o",
            str(ctx.out),
            "--preset",
            "tiny",
            "--device",
            "cpu",
            "--quiet",
            "--overwrite",
        ]
        outcome = run_cli(args, ctx.dir, signal_when=(sig, busy))
        if sig == signal.SIGKILL:
            ctx.notes["debris_allowed"] = True
        return outcome

    return scenario


def full_disk_cli(ctx: Ctx) -> Outcome:
    """The output folder is a 1 MiB tmpfs that an earlier result and filler nearly fill."""
    with tmpfs_or_none(ctx.dir / "disk", "1m") as disk:
        if disk is None:
            pytest.skip("cannot mount a tmpfs here (needs root); the file-size-limit case covers a full disk")
        out = disk / "out.glb"
        shutil.copyfile(ctx.assets["good"], out)
        earlier = out.read_bytes()
        with open(disk / "filler", "wb") as f:
            try:
                f.write(b"\0" * (1 << 20))
            except OSError:
                pass
        outcome = run_cli(
            [
                "generate",
                "--view-files",
                *ctx.assets["rgb"],
                "-o",
                str(out),
                "--preset",
                "tiny",
                "--device",
                "cpu",
                "--quiet",
                "--overwrite",
                "--texture",
                "vertex",
            ],
            ctx.dir,
        )
        assert out.read_bytes() == earlier
        assert not debris(disk)
        return outcome


def read_only_output_folder(ctx: Ctx) -> Outcome:
    """Permission bits stop a user; root ignores them, so as root a read-only mount is used."""
    target = ctx.dir / "locked"
    if os.geteuid() != 0:
        target.mkdir()
        target.chmod(0o500)
        try:
            return run_cli(["generate", "--views", ctx.assets["grid"], "-o", str(target / "out.glb")], ctx.dir)
        finally:
            target.chmod(0o700)
    with tmpfs_or_none(target, "1m", read_only=True) as disk:
        if disk is None:
            pytest.skip("root cannot be kept out by permission bits, and no read-only tmpfs can be mounted here")
        return run_cli(["generate", "--views", ctx.assets["grid"], "-o", str(disk / "out.glb")], ctx.dir)


# --- worker scenarios ---------------------------------------------------------------------------


def worker_with_env(**env: str) -> Callable[[Ctx], Outcome]:
    """A worker whose shape weights are the named (bad) files: its hello must say what its job then does."""

    def scenario(ctx: Ctx) -> Outcome:
        env_values = {k: ctx.expand(v) for k, v in env.items()}
        w = Worker(env={**env_values, "TMPDIR": str(ctx.dir)})
        try:
            name = "sae" if "LATENTDREAMER_SAE_WEIGHTS" in env else "lin"
            status = w.hello["weights"][name]
            assert status["present"] is False and status["error"], status
            end = w.request(generate_request("w", views={"files": ctx.assets["rgb"]}))
            assert status["path"] in end["message"]
            return Outcome(end.get("code", end["type"]), events=[end], err=w.stderr_text)
        finally:
            assert w.close() == 0
            assert not list(ctx.dir.glob("latentdreamer-worker-*"))

    return scenario


def job_folder_deleted_mid_job(ctx: Ctx) -> Outcome:
    w = Worker("--jobs-dir", str(ctx.dir / "jobs"), "--no-warm-up")
    try:
        removed = []

        def on_event(event: dict) -> None:
            if event["type"] == "views" and not removed:
                folder = Path(event["rgb"][0]).parent.parent
                shutil.rmtree(folder)
                removed.append(folder)

        end = w.request(generate_request("d", views={"files": ctx.assets["rgb"]}), on_event=on_event)
        assert removed, "the job never sent its views"
        assert w.request({"type": "ping", "id": "p"})["type"] == "pong"  # the worker lives on
        return Outcome(end.get("code", end["type"]), events=[end], err=w.stderr_text)
    finally:
        assert w.close() == 0


def jobs_root_deleted_between_jobs(ctx: Ctx) -> Outcome:
    """A temp cleaner removes the worker's jobs folder while it idles: the next job still works."""
    w = Worker("--no-warm-up", env={"TMPDIR": str(ctx.dir)})
    try:
        shutil.rmtree(w.hello["jobs_dir"])
        end = w.request(generate_request("r", views={"files": ctx.assets["rgb"]}, settings={"texture": False}))
        assert end["type"] == "result" and Path(end["path"]).is_file()
        assert stat.S_IMODE(Path(w.hello["jobs_dir"]).stat().st_mode) == 0o700
        return Outcome("result", events=[end], err=w.stderr_text)
    finally:
        assert w.close() == 0


def worker_disk_full(fsize: int | None, size: str | None) -> Callable[[Ctx], Outcome]:
    """A job whose files do not fit: a file size limit on the worker, or a small tmpfs as --jobs-dir."""

    def scenario(ctx: Ctx) -> Outcome:
        if size is not None:
            mount = tmpfs_or_none(ctx.dir / "disk", size)
            disk = mount.__enter__()
            if disk is None:
                pytest.skip("cannot mount a tmpfs here (needs root); the file-size-limit case covers a full disk")
        else:
            mount, disk = None, ctx.dir / "jobs"
        try:
            w = Worker("--jobs-dir", str(disk), "--no-warm-up", fsize=fsize)
            try:
                end = w.request(generate_request("f", views={"files": ctx.assets["rgb"]}, glb=True))
                assert w.request({"type": "ping", "id": "p"})["type"] == "pong"
            finally:
                assert w.close() == 0
            assert not debris(disk), debris(disk)
            assert not list(disk.rglob("result.npz"))
            return Outcome(end.get("code", end["type"]), events=[end], err="".join(w.stderr))
        finally:
            if mount is not None:
                mount.__exit__(None, None, None)

    return scenario


def killed_worker_leaves_nothing_for_long(ctx: Ctx) -> Outcome:
    """SIGKILL mid-job leaves the temporary jobs folder (no code runs at SIGKILL); the next
    worker to start removes it, and leaves a live worker's folder alone."""
    env = {"TMPDIR": str(ctx.dir)}
    live = Worker("--no-warm-up", env=env)
    victim = Worker("--no-warm-up", env=env)
    try:
        victim.send(generate_request("k", views={"files": ctx.assets["rgb"]}))
        victim.until("k", kinds=("progress",))
        kill_quietly(victim.proc.pid)
        victim.proc.wait(30)
        stale = Path(victim.hello["jobs_dir"])
        assert stale.is_dir()
        assert wait_for(lambda: not pid_alive(victim.proc.pid))
        fresh = Worker("--no-warm-up", env=env)
        gone = not stale.exists()
        fresh_root = Path(fresh.hello["jobs_dir"])
        assert fresh.close() == 0 and not fresh_root.exists()
        assert Path(live.hello["jobs_dir"]).is_dir()  # a live worker's folder is never touched
        return Outcome("removed" if gone else "left", err="".join(fresh.stderr))
    finally:
        victim.close()
        live.close()


def sigterm_mid_job(ctx: Ctx) -> Outcome:
    w = Worker("--no-warm-up", env={"TMPDIR": str(ctx.dir)})
    try:
        w.send(generate_request("t", views={"files": ctx.assets["rgb"]}))
        w.until("t", kinds=("progress",))
        w.proc.send_signal(signal.SIGTERM)
        end = w.until("t")[-1]
        assert w.proc.wait(60) == 0
        assert not Path(w.hello["jobs_dir"]).exists()
        return Outcome(end["type"], events=[end], err=w.stderr_text)
    finally:
        w.close()


def jobs_dir_of_dead_worker(ctx: Ctx) -> Outcome:
    """A shared --jobs-dir: an unfinished job folder of a dead worker goes, a finished one stays,
    and new folders and files are private (0700 / 0600)."""
    jobs = ctx.dir / "jobs"
    jobs.mkdir()
    dead_pid = 2**22 + 12345  # above any pid_max in use: no such process
    unfinished = jobs / f"job-20260101T000000-{dead_pid}-00001-a"
    finished = jobs / f"job-20260101T000000-{dead_pid}-00002-b"
    for folder in (unfinished, finished):
        folder.mkdir()
        (folder / ".latentdreamer-job").write_text("x")
    (unfinished / ".result.ld1-abc.part.npz").write_bytes(b"half")
    (finished / "result.npz").write_bytes(b"kept")
    (finished / ".result.ld1-xyz.part.npz").write_bytes(b"half")
    elsewhere = jobs / f"job-20260101T000000-{dead_pid}-00003-c"  # a worker on another machine sharing the folder
    elsewhere.mkdir()
    (elsewhere / ".latentdreamer-job").write_text("c\nanother-host.example\n")
    w = Worker("--jobs-dir", str(jobs), "--no-warm-up")
    try:
        assert not unfinished.exists() and (finished / "result.npz").is_file()
        assert elsewhere.is_dir()  # its pid means nothing here: never judged dead
        assert not list(finished.glob("*.part*"))
        end = w.request(generate_request("p", views={"files": ctx.assets["rgb"]}, settings={"texture": False}))
        folder = Path(end["path"]).parent
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert {stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_file()} == {0o600}
        assert stat.S_IMODE((folder / "views").stat().st_mode) & 0o077 == 0
        return Outcome(end["type"], events=[end], err=w.stderr_text)
    finally:
        assert w.close() == 0


def worker_jobs_dir_is_a_file(ctx: Ctx) -> Outcome:
    (ctx.dir / "afile").write_text("x")
    w = Worker("--jobs-dir", str(ctx.dir / "afile" / "jobs"))
    code = w.close()
    return Outcome(code, err=w.stderr_text)


def new_jobs_dir_is_private(ctx: Ctx) -> Outcome:
    w = Worker("--jobs-dir", str(ctx.dir / "new" / "jobs"), "--no-warm-up")
    try:
        mode = stat.S_IMODE((ctx.dir / "new" / "jobs").stat().st_mode)
        return Outcome("0700" if mode == 0o700 else oct(mode), err=w.stderr_text)
    finally:
        w.close()


# --- the table ------------------------------------------------------------------------------------

GEN = ["generate", "--preset", "tiny", "--device", "cpu", "--quiet"]
OWN = [*GEN, "--view-files", "@rgb", "-o", "{out}"]
"""Your own six views (valid): the cases below change one thing."""
SAE_ENV, LIN_ENV = "LATENTDREAMER_SAE_WEIGHTS", "LATENTDREAMER_LIN_WEIGHTS"
VIEWS = {"files": "@rgb"}

CASES: list[Case] = [
    # --- command line: what to make it from
    Case("no input", [*GEN, "-o", "{out}"], 2, ("exactly one input",), hint=False),
    Case("two inputs", [*GEN, "{mesh}", "--from-mesh", "{mesh}", "-o", "{out}"], 2, ("exactly one input",), hint=False),
    Case(
        "normals without views",
        [*GEN, "--from-mesh", "{mesh}", "--normals", "{grid}", "-o", "{out}"],
        2,
        ("--normals",),
        hint=False,
    ),
    Case("no-normals without a mesh", [*OWN, "--no-normals"], 2, ("--no-normals",), hint=False),
    Case("prompt empty", [*GEN, "--prompt", "  ", "-o", "{out}"], 2, ("--prompt is empty",), hint=False),
    Case("prompt suffix alone", [*OWN, "--prompt-suffix", "x"], 2, ("--prompt-suffix goes with --prompt",), hint=False),
    Case(
        "five view files",
        [*GEN, "--view-files", "{rgb0}", "{rgb0}", "{rgb0}", "{rgb0}", "{rgb0}", "-o", "{out}"],
        2,
        ("expected 6 arguments",),
        hint=False,
    ),
    # --- command line: the output path, checked before any compute
    Case("output suffix", [*GEN, "--views", "{grid}", "-o", "{dir}/out.stl"], 2, (".glb, .ply or .obj", "hint:")),
    Case("output is a folder", [*GEN, "--views", "{grid}", "-o", "{dir}/sub"], 2, ("is a folder",), setup=folder_at("sub")),
    Case(
        "output folder named like a mesh",
        [*GEN, "--views", "{grid}", "-o", "{dir}/sub.glb"],
        2,
        ("is a folder",),
        setup=folder_at("sub.glb"),
    ),
    Case(
        "output parent is a file",
        [*GEN, "--views", "{grid}", "-o", "{dir}/afile/out.glb"],
        2,
        ("afile", "is a file, not a folder"),
        setup=file_at("afile"),
    ),
    Case(
        "output grandparent is a file",
        [*GEN, "--views", "{grid}", "-o", "{dir}/afile/a/b/out.glb"],
        2,
        ("is a file, not a folder",),
        setup=file_at("afile"),
    ),
    Case("output folder read-only", read_only_output_folder, 2, ("could not write", "choose a folder")),
    Case("output exists", [*OWN], 2, ("already exists", "--overwrite"), setup=earlier_output),
    Case(
        "output exists, other input", [*GEN, "--from-mesh", "{mesh}", "-o", "{out}"], 2, ("already exists",), setup=earlier_output
    ),
    Case(
        "output exists, bad input too",
        [*GEN, "--views", "{dir}/none.png", "-o", "{out}"],
        2,
        ("already exists",),
        setup=earlier_output,
    ),
    Case(
        "views folder is a file",
        [*GEN, "--from-mesh", "{mesh}", "-o", "{out}"],
        2,
        ("views folder", "is a file"),
        setup=file_at("out_views"),
    ),
    Case(
        "views of an earlier run",
        [*GEN, "--from-mesh", "{mesh}", "-o", "{out}"],
        2,
        ("already holds views", "--overwrite"),
        setup=earlier_views,
        check=views_untouched,
    ),
    Case(
        "views-only into earlier views",
        [*GEN, "--from-mesh", "{mesh}", "--views-only", "-o", "{out}"],
        2,
        ("already holds views",),
        setup=earlier_views,
        check=views_untouched,
    ),
    Case(
        "views dir parent is a file",
        [*GEN, "--from-mesh", "{mesh}", "--views-dir", "{dir}/afile/v", "-o", "{out}"],
        2,
        ("is a file, not a folder",),
        setup=file_at("afile"),
    ),
    # --- command line: input files, checked before torch loads
    Case(
        "view file missing",
        [*GEN, "--view-files", "{rgb0}", "{rgb1}", "{rgb2}", "{rgb3}", "{rgb4}", "{dir}/no.png", "-o", "{out}"],
        2,
        ("not found", "no.png"),
    ),
    Case(
        "view file is a folder",
        [*GEN, "--view-files", "@rgb5", "{dir}/sub", "-o", "{out}"],
        2,
        ("is a folder",),
        setup=folder_at("sub"),
    ),
    Case("grid missing", [*GEN, "--views", "{dir}/none.png", "-o", "{out}"], 2, ("not found",)),
    Case("normals grid missing", [*GEN, "--views", "{grid}", "--normals", "{dir}/none.png", "-o", "{out}"], 2, ("not found",)),
    Case("mesh missing", [*GEN, "--from-mesh", "{dir}/none.glb", "-o", "{out}"], 2, ("not found",)),
    Case("image missing", [*GEN, "{dir}/photo.png", "-o", "{out}"], 2, ("not found",)),
    Case("view not an image", [*GEN, "--view-files", "@rgb5", "{text_png}", "-o", "{out}"], 2, ("not a readable image", "PNG")),
    Case("view truncated", [*GEN, "--view-files", "@rgb5", "{truncated_png}", "-o", "{out}"], 2, ("not a readable image",)),
    Case("views of two sizes", [*GEN, "--view-files", "@rgb5", "{small_png}", "-o", "{out}"], 2, ("same size",)),
    Case("view not square", [*GEN, "--view-files", "@rgb5", "{oblong_png}", "-o", "{out}"], 2, ("must be square",)),
    Case("grid of the wrong size", [*GEN, "--views", "{bad_grid}", "-o", "{out}"], 2, ("wrong size", "2 columns")),
    Case(
        "normals of another size",
        [*GEN, "--views", "{grid}", "--normals", "{small_normals_grid}", "-o", "{out}"],
        2,
        ("pixels per view",),
    ),
    Case("views too small", [*GEN, "--view-files", "@tiny", "-o", "{out}"], 2, ("only 16 pixels",)),
    Case("mask empty", [*GEN, "--view-files", "@empty", "-o", "{out}"], 2, ("mask is empty", "view")),
    Case(
        "mask covers 95% of every view",
        [*GEN, "--view-files", "@m95", "-o", "{out}"],
        2,
        ("covers 9", "background was taken for the object"),
    ),
    Case(
        "mask fills the whole view",
        [*GEN, "--view-files", "@opaque", "-o", "{out}"],
        2,
        ("opaque everywhere", "fills the whole view"),
    ),
    Case(
        "masks share no volume", [*GEN, "--view-files", "@nocommon", "-o", "{out}"], 2, ("share no common volume", "camera order")
    ),
    Case("mesh not a mesh", [*GEN, "--from-mesh", "{not_mesh}", "-o", "{out}"], 2, ("not_a_mesh.obj", "not a mesh")),
    Case("mesh without triangles", [*GEN, "--from-mesh", "{empty_obj}", "-o", "{out}"], 2, ("empty.obj", "no triangles")),
    Case("mesh with a face past its vertices", [*GEN, "--from-mesh", "{eval_bad}/broken.obj", "-o", "{out}"], 2, ("broken.obj",)),
    Case("image without prior weights", [*GEN, "{rgb0}", "--models-dir", "{dir}/none", "-o", "{out}"], 2, ("weights download",)),
    # --- command line: settings, one place for their messages
    Case("unknown preset", [*OWN, "--preset", "huge"], 2, ("unknown preset 'huge'", "tiny, draft")),
    Case("unknown device", [*OWN, "--device", "tpu"], 2, ("unknown device 'tpu'",)),
    Case("cuda without CUDA", [*OWN, "--device", "cuda"], 2, ("no CUDA GPU", "--device cpu")),
    Case("mps without MPS", [*OWN, "--device", "mps"], 2, ("no Apple MPS device",)),
    Case("seed 2^63", [*OWN, "--seed", str(2**63)], 2, ("out of range", str(MAX_SEED))),
    Case("seed 2^64", [*OWN, "--seed", str(2**64)], 2, ("out of range",)),
    Case("seed negative", [*OWN, "--seed", "-1"], 2, ("seed -1 is out of range",)),
    Case("seed not a number", [*OWN, "--seed", "seven"], 2, ("invalid int value",), hint=False),
    Case("steps zero", [*OWN, "--steps", "0"], 2, ("at least one denoising step",)),
    Case("guidance nan", [*OWN, "--guidance", "nan"], 2, ("not a positive number",)),
    Case(
        "uv texture into PLY",
        [*GEN, "--view-files", "@rgb", "--texture", "uv", "-o", "{dir}/out.ply"],
        2,
        ("holds no texture",),
        hint=False,
    ),
    Case("texture and no-texture", [*OWN, "--texture", "vertex", "--no-texture"], 2, ("exclude each other",), hint=False),
    Case("segmentation unknown", [*OWN, "--segmentation", "magic"], 2, ("unknown segmentation",), hint=False),
    # --- command line: shape weights, checked by sha256 before any compute, never dropped silently
    Case("SAE path missing", OWN, 2, ("none.safetensors", "not found", SAE_ENV), env={SAE_ENV: "{dir}/none.safetensors"}),
    Case("SAE flipped byte", OWN, 2, ("checksum mismatch", "sae_flip.safetensors"), env={SAE_ENV: "{sae_flip}"}),
    Case("SAE is an LFS pointer", OWN, 2, ("git lfs pull",), env={SAE_ENV: "{sae_lfs}"}),
    Case("SAE card missing", OWN, 2, ("model card", "is missing", SAE_ENV), env={SAE_ENV: "{sae_nocard}"}),
    Case("SAE card not JSON", OWN, 2, ("not readable JSON",), env={SAE_ENV: "{sae_badcard}"}),
    Case("SAE truncated", OWN, 2, ("checksum mismatch",), env={SAE_ENV: "{sae_short}"}),
    Case("SAE folder not a run", OWN, 2, ("not a training run",), env={SAE_ENV: "{dir}"}),
    Case("LIN flipped byte", OWN, 2, ("checksum mismatch", "lin_flip.safetensors"), env={LIN_ENV: "{lin_flip}"}),
    Case("LIN path missing", OWN, 2, ("not found", LIN_ENV), env={LIN_ENV: "{dir}/none.safetensors"}),
    Case("LIN for another SAE", OWN, 2, ("trained against the SAE",), env={LIN_ENV: "{lin_other}"}, hint=False),
    # --- command line: meshes that must load, runs that must finish, and faults mid-run
    Case(
        "mesh with coloured and plain parts",
        [*GEN, "--from-mesh", "{mixed_glb}", "--views-only", "-o", "{out}"],
        0,
        check=views_written,
        hint=False,
    ),
    Case(
        "mesh with textured and material-only parts",
        [*GEN, "--from-mesh", "{textured_glb}", "--views-only", "-o", "{out}"],
        0,
        check=views_written,
        hint=False,
    ),
    Case(
        "mesh with degenerate triangles",
        [*GEN, "--from-mesh", "{degenerate_obj}", "--views-only", "-o", "{out}"],
        0,
        check=views_written,
        hint=False,
    ),
    Case(
        "overwrite replaces",
        [*OWN, "--overwrite", "--texture", "vertex"],
        0,
        setup=earlier_output,
        check=loads_as_mesh,
        hint=False,
    ),
    Case(
        "file size limit at the mesh",
        [*OWN, "--overwrite", "--texture", "vertex"],
        1,
        ("could not write", "out.glb", "file size limit"),
        setup=earlier_output,
        env={"_FSIZE": "60000"},
    ),
    Case("disk full (tmpfs)", full_disk_cli, 1, ("disk is full",)),
    Case("SIGTERM mid-run", signal_during_run(signal.SIGTERM), 130, ("interrupted",), hint=False),
    Case("SIGINT mid-run", signal_during_run(signal.SIGINT), 130, ("interrupted",), hint=False),
    Case("SIGKILL mid-run", signal_during_run(signal.SIGKILL), -9, (), check=stale_stage_removed_by_next_run, hint=False),
    Case(
        "eval names the broken mesh",
        [
            "eval",
            "sae",
            "--shapes",
            "0",
            "--meshes",
            "{eval_bad}",
            "--resolution",
            "32",
            "--points",
            "2000",
            "--out",
            "{dir}/report",
        ],
        1,  # a failure row, the run goes on (issue 15): the report is written, the exit says so
        ("broken.obj", "could not be scored"),
    ),
    Case(
        "eval takes degenerate triangles",
        [
            "eval",
            "sae",
            "--shapes",
            "0",
            "--meshes",
            "{eval_degenerate}",
            "--resolution",
            "32",
            "--points",
            "2000",
            "--out",
            "{dir}/report",
        ],
        0,
        check=eval_report_written,
        hint=False,
    ),
    Case(
        "eval with a corrupt SAE",
        ["eval", "sae", "--weights", "{sae_flip}", "--shapes", "0", "--no-meshes", "--out", "{dir}/report"],
        2,
        ("checksum mismatch", "sae_flip"),
    ),
    # --- worker: requests refused before a job starts
    Case("worker: not JSON", {"raw": "{not json"}, "bad_json", ("not valid JSON",)),
    Case(
        "worker: unknown field",
        {**generate_request("u", views=VIEWS), "colour": "red"},
        "bad_request",
        ("unknown field", "allowed:"),
        hint=False,
    ),
    Case(
        "worker: seed 2^63",
        generate_request("s1", views=VIEWS, settings={"seed": 2**63}),
        "bad_request",
        ("out of range", str(MAX_SEED)),
    ),
    Case(
        "worker: seed negative",
        generate_request("s2", views=VIEWS, settings={"seed": -1}),
        "bad_request",
        ("seed -1 is out of range",),
    ),
    Case(
        "worker: seed as text",
        generate_request("s3", views=VIEWS, settings={"seed": "7"}),
        "bad_request",
        ("must be int",),
        hint=False,
    ),
    Case(
        "worker: seed true",
        generate_request("s4", views=VIEWS, settings={"seed": True}),
        "bad_request",
        ("must be int",),
        hint=False,
    ),
    Case(
        "worker: unknown preset",
        generate_request("p1", views=VIEWS, settings={"preset": "huge"}),
        "bad_request",
        ("unknown preset",),
    ),
    Case(
        "worker: unknown device",
        generate_request("d1", views=VIEWS, settings={"device": "tpu"}),
        "bad_request",
        ("unknown device",),
    ),
    Case(
        "worker: preview_every 0",
        generate_request("v0", views=VIEWS, settings={"preview_every": 0}),
        "bad_request",
        ("preview_every",),
    ),
    Case(
        "worker: view missing",
        generate_request("m1", views={"files": ["@rgb5", "{dir}/no.png"]}),
        "file_not_found",
        ("no.png", "does not exist"),
    ),
    Case("worker: view is a folder", generate_request("m2", views={"grid": "{dir}"}), "file_not_found", ("is a folder",)),
    Case("worker: view not an image", generate_request("m3", views={"grid": "{text_png}"}), "not_an_image", ("not an image",)),
    Case("worker: image too large", generate_request("m4", image="{huge_png}"), "image_too_large", ("the limit is",)),
    Case(
        "worker: five files", generate_request("m5", views={"files": ["@rgb5"]}), "bad_request", ("6 path strings",), hint=False
    ),
    Case(
        "worker: grid of the wrong size", generate_request("g1", views={"grid": "{bad_grid}"}), "invalid_input", ("wrong size",)
    ),
    Case(
        "worker: views of two sizes",
        generate_request("g2", views={"files": ["@rgb5", "{small_png}"]}),
        "invalid_input",
        ("same size",),
    ),
    Case("worker: mask 95%", generate_request("k1", views={"files": "@m95"}), "invalid_input", ("covers 9",)),
    Case(
        "worker: mask fills the view", generate_request("k2", views={"files": "@opaque"}), "invalid_input", ("opaque everywhere",)
    ),
    Case(
        "worker: masks share no volume",
        generate_request("k3", views={"files": "@nocommon"}),
        "invalid_input",
        ("share no common volume",),
    ),
    Case(
        "worker: cuda without CUDA",
        generate_request("c1", views=VIEWS, settings={"device": "cuda"}),
        "device_unavailable",
        ("no CUDA GPU",),
    ),
    Case("worker: empty prompt", generate_request("t1", prompt=" "), "bad_request", ("'prompt' must be",), hint=False),
    # --- worker: scenarios (several steps, own worker processes)
    Case(
        "worker: SAE flipped byte",
        worker_with_env(LATENTDREAMER_SAE_WEIGHTS="{sae_flip}"),
        "weights_corrupt",
        ("checksum mismatch",),
    ),
    Case(
        "worker: SAE is an LFS pointer",
        worker_with_env(LATENTDREAMER_SAE_WEIGHTS="{sae_lfs}"),
        "weights_corrupt",
        ("git lfs pull",),
    ),
    Case(
        "worker: SAE path missing",
        worker_with_env(LATENTDREAMER_SAE_WEIGHTS="{dir}/none.safetensors"),
        "weights_missing",
        ("not found",),
    ),
    Case(
        "worker: LIN flipped byte",
        worker_with_env(LATENTDREAMER_LIN_WEIGHTS="{lin_flip}"),
        "weights_corrupt",
        ("checksum mismatch",),
    ),
    Case("worker: job folder deleted mid-job", job_folder_deleted_mid_job, "write_failed", ("no longer exists",)),
    Case("worker: jobs folder deleted while idle", jobs_root_deleted_between_jobs, "result", hint=False),
    Case("worker: file size limit", worker_disk_full(fsize=40_000, size=None), "write_failed", ("file size limit",)),
    Case("worker: disk full (tmpfs)", worker_disk_full(fsize=None, size="256k"), "write_failed", ("disk is full",)),
    Case("worker: SIGKILL, then a new worker", killed_worker_leaves_nothing_for_long, "removed", hint=False),
    Case("worker: SIGTERM mid-job", sigterm_mid_job, "cancelled", hint=False),
    Case("worker: dead worker's jobs in --jobs-dir", jobs_dir_of_dead_worker, "result", hint=False),
    Case("worker: --jobs-dir under a file", worker_jobs_dir_is_a_file, 2, ("cannot use",), hint=False),
    Case("worker: new --jobs-dir is private", new_jobs_dir_is_private, "0700", hint=False),
]


def _ids(cases: list[Case]) -> list[str]:
    return [re.sub(r"[^a-z0-9]+", "-", c.name.lower()).strip("-") for c in cases]


def test_the_table_has_at_least_80_distinct_cases():
    assert len(CASES) >= 80 and len(set(_ids(CASES))) == len(CASES)


# --- assets: made once per session --------------------------------------------------------------


@pytest.fixture(scope="session")
def assets(tmp_path_factory) -> dict:
    from latentdreamer.geometry.example_object import example_object
    from latentdreamer.io.mesh_io import save_mesh

    root = tmp_path_factory.mktemp("fault-assets")
    a: dict = {"mesh": str(save_mesh(example_object(seed=3, resolution=32), root / "object.glb"))}
    made = run_cli(
        [
            "generate",
            "--from-mesh",
            a["mesh"],
            "--views-only",
            "--quiet",
            "--views-dir",
            str(root / "views"),
            "-o",
            str(root / "unused.glb"),
        ],
        root,
    )
    assert made.code == 0, made.err
    a["rgb"] = [str(root / "views" / f"rgb_{k}.png") for k in range(6)]
    a["normals"] = [str(root / "views" / f"normal_{k}.png") for k in range(6)]
    for k in range(6):
        a[f"rgb{k}"] = a["rgb"][k]
    a["rgb5"] = a["rgb"][:5]
    a["grid"] = str(grid_of(a["rgb"], root / "grid.png"))
    a["small_normals_grid"] = str(grid_of(a["normals"], root / "normals_small.png", tile=VIEW_SIZE // 2))
    bad = root / "bad_grid.png"
    from PIL import Image

    Image.open(a["grid"]).resize((600, 960)).save(bad)
    a["bad_grid"] = str(bad)
    bad_inputs = root / "bad"
    a["m95"] = six(bad_inputs, "m95", lambda k: square_mask_view(VIEW_SIZE, 4))
    a["opaque"] = six(bad_inputs, "opaque", lambda k: np.full((VIEW_SIZE, VIEW_SIZE, 4), 180, np.uint8) | 0)
    for f in a["opaque"]:
        im = np.asarray(Image.open(f)).copy()
        im[..., 3] = 255
        write_rgba(Path(f), im)
    a["empty"] = six(bad_inputs, "empty", lambda k: np.zeros((VIEW_SIZE, VIEW_SIZE, 4), np.uint8))
    a["nocommon"] = six(bad_inputs, "nocommon", lambda k: corner_disk_view(VIEW_SIZE, k))
    a["tiny"] = six(bad_inputs, "tiny", lambda k: square_mask_view(16, 5))
    a["small_png"] = str(write_rgba(bad_inputs / "small.png", square_mask_view(256, 60)))
    a["oblong_png"] = str(write_rgba(bad_inputs / "oblong.png", square_mask_view(VIEW_SIZE, 60)[:300]))
    (bad_inputs / "text.png").write_text("not an image\n")
    a["text_png"] = str(bad_inputs / "text.png")
    (bad_inputs / "truncated.png").write_bytes(Path(a["rgb"][0]).read_bytes()[:200])
    a["truncated_png"] = str(bad_inputs / "truncated.png")
    a["huge_png"] = str(huge_png(bad_inputs / "huge.png"))
    weights = root / "weights"
    a["sae_flip"] = str(flip_byte(copy_weights("sae", weights, "sae_flip")))
    lfs = copy_weights("sae", weights, "sae_lfs")
    lfs.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 2340060\n")
    a["sae_lfs"] = str(lfs)
    nocard = copy_weights("sae", weights, "sae_nocard")
    nocard.with_suffix(".json").unlink()
    a["sae_nocard"] = str(nocard)
    badcard = copy_weights("sae", weights, "sae_badcard")
    badcard.with_suffix(".json").write_text("{not json")
    a["sae_badcard"] = str(badcard)
    short = copy_weights("sae", weights, "sae_short")
    short.write_bytes(short.read_bytes()[:1000])
    a["sae_short"] = str(short)
    a["lin_flip"] = str(flip_byte(copy_weights("lin", weights, "lin_flip")))
    other = copy_weights("lin", weights, "lin_other")
    card = json.loads(other.with_suffix(".json").read_text())
    card["sae_sha256"] = hashlib.sha256(b"another SAE").hexdigest()
    other.with_suffix(".json").write_text(json.dumps(card))
    a["lin_other"] = str(other)
    meshes = root / "meshes"
    meshes.mkdir()
    a["mixed_glb"] = str(mixed_colour_glb(meshes / "mixed.glb"))
    a["textured_glb"] = str(textured_and_plain_glb(meshes / "textured.glb"))
    a["degenerate_obj"] = str(degenerate_obj(meshes / "degenerate.obj"))
    (meshes / "not_a_mesh.obj").write_bytes(b"\x00\x01garbage\xff" * 50)
    a["not_mesh"] = str(meshes / "not_a_mesh.obj")
    (meshes / "empty.obj").write_text("# nothing here\n")
    a["empty_obj"] = str(meshes / "empty.obj")
    for name, source in (("eval_bad", None), ("eval_degenerate", a["degenerate_obj"])):
        folder = root / name
        folder.mkdir()
        if source:
            shutil.copy(source, folder / "degenerate.obj")
        else:
            (folder / "broken.obj").write_text("v 0 0 0\nv 1 0 0\nf 1 2 9\n")
        a[name] = str(folder)
    good = root / "good.glb"
    made = run_cli([*GEN, "--view-files", *a["rgb"], "-o", str(good), "--texture", "vertex"], root)
    assert made.code == 0, made.err
    a["good"] = str(good)
    return a


# --- running the table ----------------------------------------------------------------------------


def _run_case(case: Case, root: Path, assets: dict) -> tuple[Ctx, Outcome]:
    ctx = Ctx(root / _ids([case])[0], assets)
    ctx.dir.mkdir(parents=True)
    if case.setup is not None:
        case.setup(ctx)
    env = {k: ctx.expand(v) for k, v in case.env.items() if not k.startswith("_")}
    fsize = int(case.env["_FSIZE"]) if "_FSIZE" in case.env else None
    if isinstance(case.run, list):
        outcome = run_cli(ctx.expand(case.run), ctx.dir, env=env, fsize=fsize)
    else:
        outcome = case.run(ctx)
    return ctx, outcome


@pytest.fixture(scope="module")
def cli_outcomes(assets, tmp_path_factory) -> dict:
    """Every command-line case, two at a time (each is a process; most end within a second)."""
    root = tmp_path_factory.mktemp("cli-cases")
    cases = [c for c in CASES if c.kind == "cli"]
    results: dict = {}

    def one(case: Case):
        try:
            results[case.name] = _run_case(case, root, assets)
        except BaseException as exc:  # reported by the case's own test
            results[case.name] = exc

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, cases))
    return results


@pytest.fixture(scope="module")
def worker_outcomes(assets, tmp_path_factory) -> dict:
    """Every one-request worker case through one worker (the real pipeline, as the add-on runs it)."""
    root = tmp_path_factory.mktemp("worker-cases")
    worker = Worker("--no-warm-up", env={"TMPDIR": str(root)})
    results: dict = {"_hello": worker.hello}
    try:
        for case in (c for c in CASES if c.kind == "worker"):
            ctx = Ctx(root / _ids([case])[0], assets)
            ctx.dir.mkdir()
            if "raw" in case.run:  # a line that is not a request at all
                worker.send(case.run["raw"])
                end = worker.until(None, kinds=("error",))[-1]
            else:
                end = worker.request(ctx.expand(case.run))
            results[case.name] = (ctx, Outcome(end.get("code", end["type"]), events=[end]))
        results["_ping"] = worker.request({"type": "ping", "id": "alive"})
    finally:
        results["_exit"] = worker.close()
        results["_stderr"] = worker.stderr_text
        results["_root"] = root
    return results


def _assert_clean(case: Case, ctx: Ctx, outcome: Outcome) -> None:
    """What every case must satisfy besides its own expectations."""
    assert "Traceback" not in outcome.text, outcome.text[-3000:]
    assert outcome.code == case.expect, f"{case.name}: got {outcome.code!r}, expected {case.expect!r}\n{outcome.text[-3000:]}"
    message = (
        outcome.text
        if not outcome.events
        else " ".join(str(e.get("message", "")) + " hint: " + str(e.get("hint", "")) for e in outcome.events)
    )
    for words in case.says:
        assert words in message, f"{case.name}: {words!r} not in\n{message[-3000:]}"
    if case.hint and case.expect not in (0, "result"):
        hint = re.search(r"hint: (\S.*)", message)
        assert hint and len(hint.group(1)) > 10, f"{case.name}: no hint saying what to do in\n{message[-2000:]}"
    if not ctx.notes.get("debris_allowed"):
        assert not debris(ctx.dir), debris(ctx.dir)
    assert not processes_mentioning(str(ctx.dir)), processes_mentioning(str(ctx.dir))
    if case.check is not None:
        case.check(ctx, outcome)
    if case.expect != 0 and case.kind != "worker":
        if ctx.earlier is not None:
            assert ctx.out.read_bytes() == ctx.earlier, "the earlier output was changed"
        elif case.expect not in ("result",):
            assert not ctx.out.exists(), f"{ctx.out} was written by a failed run"


CLI_CASES = [c for c in CASES if c.kind == "cli"]
WORKER_CASES = [c for c in CASES if c.kind == "worker"]
SCENARIOS = [c for c in CASES if c.kind == "scenario"]


@pytest.mark.parametrize("case", CLI_CASES, ids=_ids(CLI_CASES))
def test_command_line(case: Case, cli_outcomes: dict) -> None:
    result = cli_outcomes[case.name]
    if isinstance(result, BaseException):
        raise result
    _assert_clean(case, *result)


@pytest.mark.parametrize("case", WORKER_CASES, ids=_ids(WORKER_CASES))
def test_worker_request(case: Case, worker_outcomes: dict) -> None:
    ctx, outcome = worker_outcomes[case.name]
    _assert_clean(case, ctx, outcome)


def test_the_worker_served_every_bad_request_and_left_nothing(worker_outcomes: dict) -> None:
    assert worker_outcomes["_ping"] == {"type": "pong", "id": "alive", "running": None, "queued": []}
    assert worker_outcomes["_exit"] == 0
    assert "Traceback" not in worker_outcomes["_stderr"]
    assert not list(worker_outcomes["_root"].glob("latentdreamer-worker-*"))  # its temporary jobs folder is gone
    weights = worker_outcomes["_hello"]["weights"]
    assert weights["sae"]["present"] and weights["sae"]["error"] is None  # the shipped weights verify


@pytest.mark.parametrize("case", SCENARIOS, ids=_ids(SCENARIOS))
def test_scenario(case: Case, assets: dict, tmp_path: Path) -> None:
    ctx, outcome = _run_case(case, tmp_path, assets)
    _assert_clean(case, ctx, outcome)
