"""atomic_files: an interrupted write keeps the earlier file and leaves no part file."""

from __future__ import annotations

import pytest

from latentdreamer_addon.atomic_files import write_atomically


def test_a_failed_write_keeps_the_earlier_file_whole(tmp_path):
    target = tmp_path / "out" / "scene.blend"
    write_atomically(target, lambda tmp: tmp.write_bytes(b"good"))
    assert target.read_bytes() == b"good"

    def half_then_fail(tmp):
        tmp.write_bytes(b"ha")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"good"
    assert sorted(p.name for p in target.parent.iterdir()) == ["scene.blend"]
