"""session.Job: worker events (as the protocol defines them) -> state, meshes and undo steps."""

from __future__ import annotations

import bpy
import numpy as np

from latentdreamer_addon import mesh_import
from latentdreamer_addon.mesh_import import ImportOptions
from latentdreamer_addon.session import Job, copy_to_status

from test_mesh_import import icosphere_arrays


def npz(tmp_path, name: str, subdivisions: int) -> str:
    a = icosphere_arrays(subdivisions)
    path = tmp_path / f"{name}.npz"
    np.savez(path, vertices=a.vertices, faces=a.faces, colors=a.colors)
    return str(path)


def progress(stage: str, step: int, fraction: float) -> dict:
    return {
        "type": "progress",
        "id": "g1",
        "stage": stage,
        "step": step,
        "total": 10,
        "fraction": fraction,
        "eta_s": 12.5,
        "message": f"{stage} {step}",
    }


def test_previews_then_result_is_one_undo_step(tmp_path, clean_file):
    mesh_import.undo_push("before the job")
    job = Job("g1", "statue", (0.0, 0.0, 0.0), ImportOptions(face_budget=200))
    job.handle(progress("coarse", 3, 0.2))
    # One event is no measured rate yet: no time left is shown until it is (progress_text.RateGate).
    assert (job.stage, job.step, job.eta_s, job.fraction) == ("coarse", 3, None, 0.2)
    job.handle(
        {"type": "preview", "id": "g1", "stage": "coarse", "path": npz(tmp_path, "p1", 1), "num_vertices": 12, "num_faces": 20}
    )
    assert len(job.object.data.polygons) == 20  # the live preview object
    job.handle(
        {"type": "preview", "id": "g1", "stage": "refine", "path": npz(tmp_path, "p2", 2), "num_vertices": 42, "num_faces": 80}
    )
    assert len(bpy.data.objects) == 1 and len(job.object.data.polygons) == 80  # updated in place
    job.handle(
        {
            "type": "result",
            "id": "g1",
            "path": npz(tmp_path, "r", 4),
            "glb": None,
            "stats": {"num_faces": 1280, "preset": "tiny", "loss_coarse": 0.1},
            "timings": {"coarse": 1.5, "texture": 2.0, "total_s": 3.6},
        }
    )
    assert job.state == "done" and job.fraction == 1.0
    assert len(job.object.data.polygons) <= 200  # the face budget applied to the final mesh only
    assert job.stats_text() == "faces: 1280, preset: tiny, time: 3.6 s"
    assert job.result_path.endswith("r.npz")
    bpy.ops.ed.undo()
    assert "statue" not in bpy.data.objects  # one Ctrl+Z removes the whole import
    bpy.ops.ed.redo()
    assert "statue" in bpy.data.objects


def test_cancel_without_a_mesh_from_the_worker_keeps_the_preview(tmp_path, clean_file):
    job = Job("g1", "vase", (1.0, 0.0, 0.0), ImportOptions())
    job.handle(
        {"type": "preview", "id": "g1", "stage": "refine", "path": npz(tmp_path, "p", 2), "num_vertices": 42, "num_faces": 80}
    )
    job.handle({"type": "cancelled", "id": "g1", "stage": "refine", "path": None})
    assert job.state == "cancelled" and job.message == "Cancelled while refining details. The mesh so far was kept as 'vase'."
    assert len(job.object.data.polygons) == 80 and job.object.data.materials


def test_cancel_with_the_workers_best_mesh_imports_it(tmp_path, clean_file):
    job = Job("g1", "vase", (0.0, 0.0, 0.0), ImportOptions(), live_preview=False)
    job.handle(
        {"type": "preview", "id": "g1", "stage": "refine", "path": npz(tmp_path, "p", 2), "num_vertices": 42, "num_faces": 80}
    )
    assert job.object is None  # live preview off
    job.handle({"type": "cancelled", "id": "g1", "stage": "texture", "path": npz(tmp_path, "best", 3)})
    assert job.state == "cancelled" and len(job.object.data.polygons) == 320


def test_unreadable_result_becomes_an_error_with_a_hint(tmp_path, clean_file):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    job = Job("g1", "x", (0.0, 0.0, 0.0), ImportOptions())
    job.handle({"type": "result", "id": "g1", "path": str(broken), "glb": None, "stats": {}, "timings": {}})
    assert job.state == "error" and job.error_code == "bad_result"
    assert "could not import" in job.error and job.hint
    assert not bpy.data.objects


def test_worker_error_and_status_mirror(clean_file):
    job = Job("g1", "x", (0.0, 0.0, 0.0), ImportOptions())
    job.handle({"type": "views", "id": "g1", "rgb": [f"/v/{k}.png" for k in range(6)], "normals": None})
    job.handle(
        {"type": "error", "id": "g1", "code": "out_of_memory", "message": "ran out of GPU memory", "hint": "try the draft preset"}
    )
    assert job.report_text() == "ran out of GPU memory — try the draft preset"
    status = bpy.context.window_manager  # any object with the status fields will do; use a real one
    import addon_utils

    addon_utils.enable("latentdreamer_addon", default_set=True, handle_error=None)
    try:
        copy_to_status(job, status.latentdreamer)
        s = status.latentdreamer
        assert not s.running and s.error == "ran out of GPU memory" and s.hint == "try the draft preset"
        assert [v.path for v in s.views] == [f"/v/{k}.png" for k in range(6)]
    finally:
        addon_utils.disable("latentdreamer_addon", default_set=True, handle_error=None)


def test_an_unreadable_preview_is_skipped_not_fatal(tmp_path, clean_file):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    job = Job("g1", "x", (0.0, 0.0, 0.0), ImportOptions())
    job.handle({"type": "preview", "id": "g1", "stage": "coarse", "path": str(broken), "num_vertices": 0, "num_faces": 0})
    assert job.state == "running" and job.message.startswith("preview skipped")
    job.handle({"type": "result", "id": "g1", "path": npz(tmp_path, "r", 1), "glb": None, "stats": {}, "timings": {}})
    assert job.state == "done" and len(job.object.data.polygons) == 20
