"""`latentdreamer batch`, as a studio runs it: a subprocess on real folders, resumed, with a
failing item, from a manifest, and on Ray (local mode, two CPU actors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from latentdreamer.batch.items import BatchInputError, BatchItem, collect_items

DEFAULTS = {"preset": "tiny", "device": "cpu", "seed": 0, "texture": True}


@pytest.fixture(scope="module")
def view_sets(tmp_path_factory) -> Path:
    """sets/cube_a and sets/cube_b: six views + normals each, made by the backend; sets/broken:
    six files that are not images (the failing item)."""
    from latentdreamer.api import Callbacks, GenerateSettings
    from latentdreamer.geometry.example_object import example_object
    from latentdreamer.io.mesh_io import save_mesh
    from latentdreamer.job import JobInputs, Models, make_views

    root = tmp_path_factory.mktemp("batch")
    for name, seed in (("cube_a", 3), ("cube_b", 5)):
        mesh = root / f"{name}.glb"
        save_mesh(example_object(seed=seed, resolution=32), mesh)
        make_views(JobInputs(mesh=mesh), GenerateSettings(preset="tiny"), root / "sets" / name, Callbacks(), Models())
    broken = root / "sets" / "broken"
    broken.mkdir()
    for k in range(6):
        (broken / f"rgb_{k}.png").write_text("not a picture")
    return root / "sets"


def batch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LATENTDREAMER_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "latentdreamer", "batch", *args, "--quiet"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def records(out: Path) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads((out / "summary.json").read_text())}


def test_a_folder_of_view_sets_with_a_failing_item_then_a_resumed_run(view_sets, tmp_path):
    out = tmp_path / "out"
    first = batch(str(view_sets), "--out", str(out), "--preset", "tiny", cwd=tmp_path)
    assert first.returncode == 1, first.stderr  # one item failed: the exit code says so
    assert "Traceback" not in first.stderr
    got = records(out)
    assert got["cube_a"]["status"] == got["cube_b"]["status"] == "done"
    assert (out / "cube_a" / "cube_a.glb").is_file() and (out / "cube_a" / "views" / "rgb_0.png").is_file()
    assert got["broken"]["status"] == "failed" and "not a readable image" in got["broken"]["error"]
    assert "failed: broken:" in first.stderr
    record = json.loads((out / "cube_a" / "record.json").read_text())
    assert record["settings"]["preset"] == "tiny" and record["timings"] and record["stats"] and len(record["key"]) == 64
    assert not list(out.rglob("*.part.*"))
    assert "| cube_a | done |" in (out / "summary.md").read_text()
    # Same command again: the finished items are skipped, the failing one runs (and fails) again.
    again = batch(str(view_sets), "--out", str(out), "--preset", "tiny", cwd=tmp_path)
    assert again.returncode == 1 and "3 items: 2 already finished, 1 to run" in again.stderr
    got = records(out)
    assert got["cube_a"]["status"] == got["cube_b"]["status"] == "skipped"
    # Other settings are another result: nothing is skipped.
    other = batch(str(view_sets), "--out", str(out), "--preset", "tiny", "--seed", "1", cwd=tmp_path)
    assert "3 items: 0 already finished, 3 to run" in other.stderr


def test_a_manifest_with_per_item_settings(view_sets, tmp_path):
    manifest = tmp_path / "jobs.jsonl"
    files = [str(view_sets / "cube_a" / f"rgb_{k}.png") for k in range(6)]
    rows = [
        {"name": "mug", "view_files": files, "seed": 3, "texture": False},
        {"name": "mug_coloured", "view_files": ";".join(files), "preset": "tiny"},
    ]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out"
    done = batch(str(manifest), "--out", str(out), "--preset", "tiny", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = records(out)
    assert got["mug"]["settings"]["seed"] == 3 and got["mug"]["settings"]["texture"] is False
    assert got["mug_coloured"]["settings"]["texture"] is True


def test_bad_batch_inputs_are_clear_errors(view_sets, tmp_path):
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("name,image,colour\nchair,chair.png,red\n")
    out = batch(str(manifest), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert out.returncode == 2 and "unknown column(s) colour" in out.stderr and "Traceback" not in out.stderr
    out = batch(str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert out.returncode == 2 and "neither a folder nor a .csv/.jsonl manifest" in out.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = batch(str(view_sets), "--out", str(blocker / "out"), cwd=tmp_path)
    assert out.returncode == 2 and "cannot write to" in out.stderr


def test_item_names_must_be_distinct_and_the_key_follows_the_files(tmp_path):
    (tmp_path / "a.png").write_bytes(b"one")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"image": "a.png"}\n{"image": "a.png"}\n')
    with pytest.raises(BatchInputError, match="several items are named a"):
        collect_items(manifest, DEFAULTS)
    item = BatchItem("a", {"image": str(tmp_path / "a.png")}, DEFAULTS)
    key = item.key()
    (tmp_path / "a.png").write_bytes(b"two")
    assert item.key() != key  # a changed input is a new job, not a skip


def test_ray_local_mode_with_two_cpu_actors(view_sets, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'latentdreamer[farm]')")
    good = tmp_path / "sets"
    good.mkdir()
    for name in ("cube_a", "cube_b"):
        (good / name).symlink_to(view_sets / name)
    out = tmp_path / "out"
    done = batch(
        str(good), "--out", str(out), "--preset", "tiny", "--ray", "auto", "--actors", "2", "--cpus-per-actor", "1", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Ray: 2 actor(s)" in done.stderr
    got = records(out)
    assert got["cube_a"]["status"] == got["cube_b"]["status"] == "done"
    assert (out / "cube_b" / "cube_b.glb").is_file()
