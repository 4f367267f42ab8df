"""Fixtures for the priors' tests: a models folder of tiny random models (see tiny_diffusion)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiny_diffusion import build_tiny_text_to_image, build_tiny_zero123plus


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """A models folder (as `--models-dir` / LATENTDREAMER_MODELS) holding every tiny model."""
    for module in ("diffusers", "transformers"):
        pytest.importorskip(module, reason="the 'diffusion' extra is not installed: pip install -e 'backend[test,diffusion]'")
    root = tmp_path_factory.mktemp("models")
    build_tiny_zero123plus(root)
    build_tiny_text_to_image(root)
    return root


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models on a shared 2-core machine run ~20x faster single-threaded (no spin-waits)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_zero123(tiny_models):
    """The tiny models loaded through the production loader (`Zero123Plus.load`)."""
    from latentdreamer.priors.zero123plus import Zero123Plus

    return Zero123Plus.load(tiny_models / "zero123plus-v1.2", tiny_models / "controlnet-zp12-normal-gen-v1")
