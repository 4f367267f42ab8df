import json
from pathlib import Path

import pytest
import torch

from latentdreamer.models.weights_file import WeightsError, card_path, load_weights, save_weights


def test_round_trip_records_checksum_and_shapes(tmp_path: Path):
    tensors = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(4)}
    cpath = save_weights(tmp_path / "m.safetensors", tensors, {"config": {"x": 1}, "steps": 5})
    card = json.loads(cpath.read_text())
    assert len(card["sha256"]) == 64 and card["tensors"] == {"a": [2, 3], "b": [4]} and card["steps"] == 5
    loaded, card2 = load_weights(tmp_path / "m.safetensors")
    assert card2 == card
    torch.testing.assert_close(loaded["a"], tensors["a"])


def test_mismatch_missing_file_and_missing_card_fail_clearly(tmp_path: Path):
    path = tmp_path / "m.safetensors"
    save_weights(path, {"a": torch.zeros(3)}, {})
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_weights(path)
    path.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:00\n")
    with pytest.raises(WeightsError, match="git lfs pull"):
        load_weights(path)
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "absent.safetensors")
    card_path(path).unlink()
    with pytest.raises(WeightsError, match="model card"):
        load_weights(path)
    with pytest.raises(ValueError, match="safetensors"):
        save_weights(tmp_path / "m.pt", {}, {})
