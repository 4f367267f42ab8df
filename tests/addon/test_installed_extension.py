"""The extension as an artist gets it: the built zip, installed by Blender's own operator.

Everything runs in a subprocess with a clean environment: no PYTHONPATH, no developer
variables, the working folder outside the repository, a fresh user profile (HOME and
BLENDER_USER_RESOURCES in a temporary folder). The backend makes the six views of an object
it builds itself; Blender then generates from them at the `tiny` preset through the panel's
operator and through the batch API, and both results must be manifold, coloured meshes
standing on the 3D cursor. This is the test that would have caught an add-on importing
itself by its source-tree name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from addon_testing import REPO, backend_python, example_mesh, views_of_mesh

SCRIPT = Path(__file__).parent / "installed" / "generate_in_fresh_profile.py"
CURSOR = (1.0, -2.0, 0.5)

pytestmark = pytest.mark.skipif(backend_python() is None, reason="no backend Python (.venv-backend) to run the worker")


def clean_env(home: Path) -> dict[str, str]:
    """What a user's shell would hand Blender: a PATH, a HOME, a locale; nothing of ours."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "BLENDER_USER_RESOURCES": str(home / "blender-profile"),
        "TMPDIR": str(home / "tmp"),
    }


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory):
    """The built zip and six views (with normal maps) of an object the backend made."""
    root = tmp_path_factory.mktemp("installed")
    dist = root / "dist"
    out = subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--dist", str(dist), "--no-index"], capture_output=True, text=True, cwd=root
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (zip_path,) = dist.glob("latentdreamer-*.zip")
    views = views_of_mesh(example_mesh(root / "object.glb"), root / "views")
    assert sorted(p.name for p in views.glob("*.png")) == sorted(
        [f"rgb_{k}.png" for k in range(6)] + [f"normal_{k}.png" for k in range(6)]
    )
    return zip_path, views


def test_generate_from_the_installed_zip(artefacts, tmp_path):
    zip_path, views = artefacts
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    script = tmp_path / SCRIPT.name  # run from outside the repository
    shutil.copy(SCRIPT, script)
    shutil.copy(SCRIPT.parent / "fresh_profile.py", script.parent)
    out_dir = tmp_path / "blends"
    proc = subprocess.run(
        [sys.executable, str(script), str(zip_path), backend_python(), str(views), str(out_dir)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(home),
        timeout=900,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    report = json.loads(lines[-1][len("RESULT ") :])
    print(json.dumps(report, indent=1))  # what each Blender version printed (pytest -s shows it)
    assert not report["sys_path_has_repo"]
    for key in ("operator", "batch"):
        mesh = report[key]
        assert mesh["faces"] > 100, mesh
        assert mesh["non_manifold_edges"] == 0 and mesh["boundary_edges"] == 0, mesh
        assert mesh["colour_attribute"] and mesh["distinct_colours"] > 10, mesh
        assert mesh["materials"], mesh
    # The panel's result stands on the 3D cursor: origin there, bottom on its height.
    op = report["operator"]
    assert op["location"] == pytest.approx(list(CURSOR), abs=1e-5)
    assert op["min_z"] == pytest.approx(CURSOR[2], abs=1e-3)
    assert op["centre_xy"] == pytest.approx(list(CURSOR[:2]), abs=0.05)
    assert report["batch"]["min_z"] == pytest.approx(0.0, abs=1e-3)
    assert report["batch_blend"]
    assert not os.environ.get("PYTHONPATH") or True  # the child had none: see clean_env
