"""Blender-side tests: real bpy (as a Python module, background mode).

Blender reads its user folder when bpy is first imported, so the temporary user folder is
set here, before any test module imports bpy; extension installs and preferences then
never touch the developer's own Blender set-up.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_USER = tempfile.mkdtemp(prefix="ld-blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = _USER
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import bpy  # noqa: E402  (must follow the environment set-up above)
import pytest  # noqa: E402


@pytest.fixture
def clean_file():
    """An empty scene for each test, so tests cannot see each other's objects."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield
    bpy.ops.wm.read_factory_settings(use_empty=True)
