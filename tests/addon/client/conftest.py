"""Fixtures for the client tests (helpers live in client_support)."""

from __future__ import annotations

import pytest
from client_support import write_png


@pytest.fixture
def grid(tmp_path) -> str:
    return write_png(tmp_path / "grid.png", 64, 96)
