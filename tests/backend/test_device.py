import pytest
import torch

from latentdreamer import device as device_module
from latentdreamer.device import auto_device, describe_device, resolve_device


def test_auto_matches_cuda_availability() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_cpu_always_available() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert describe_device(torch.device("cpu"))["type"] == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_unknown_choice_rejected() -> None:
    with pytest.raises(ValueError, match="auto, cpu, cuda or mps"):
        resolve_device("tpu")


@pytest.mark.parametrize(
    "cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_auto_prefers_cuda_then_mps_then_cpu(cuda, mps, expected) -> None:
    assert auto_device(cuda, mps) == expected


def test_auto_picks_mps_on_a_mac_without_cuda(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    assert resolve_device("mps") == torch.device("mps")


def test_mps_without_one_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(device_module, "mps_available", lambda: False)
    with pytest.raises(RuntimeError, match="no Apple MPS device"):
        resolve_device("mps")
