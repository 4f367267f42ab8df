"""Tiny randomly initialised diffusion models, saved in the real diffusers layouts.

Everything a real download has (safetensors, configs, tokenizer files, processor configs,
scheduler config, model_index.json) but a few thousand weights, so the production loading
code runs unchanged in seconds on a CPU. Shared by the priors' conftest and tests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from latentdreamer.priors.errors import PriorInputError

TOKENS = 8
WIDTH = 16
CONDITION = 32


def save_tokenizer(folder: Path) -> None:
    """A CLIP tokenizer over single letters (no merges), built locally: no hub."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for token in letters + [c + "</w>" for c in letters]:
        vocab[token] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=TOKENS, pad_token="<|endoftext|>"
    )
    tok.save_pretrained(folder)


def save_unet(folder: Path):
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(8, 16),
        norm_num_groups=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=WIDTH,
        attention_head_dim=4,
        use_linear_projection=True,
    )
    unet.save_pretrained(folder, safe_serialization=True)
    return unet


def save_vae(folder: Path) -> None:
    from diffusers import AutoencoderKL

    AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 16),
        norm_num_groups=4,
        layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        sample_size=CONDITION,
    ).save_pretrained(folder, safe_serialization=True)


def save_text_encoder(folder: Path) -> None:
    from transformers import CLIPTextConfig, CLIPTextModel

    CLIPTextModel(
        CLIPTextConfig(
            vocab_size=64,
            hidden_size=WIDTH,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=TOKENS,
            projection_dim=WIDTH,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    ).save_pretrained(folder, safe_serialization=True)


def build_tiny_zero123plus(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """(model folder, controlnet folder) with tiny random weights in the real layout."""
    import torch
    from diffusers import ControlNetModel, EulerAncestralDiscreteScheduler
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    model = root / "zero123plus-v1.2"
    unet = save_unet(model / "unet")
    save_vae(model / "vae")
    save_text_encoder(model / "text_encoder")
    CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=WIDTH,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=16,
            patch_size=8,
            projection_dim=WIDTH,
        )
    ).save_pretrained(model / "vision_encoder", safe_serialization=True)
    save_tokenizer(model / "tokenizer")
    EulerAncestralDiscreteScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="v_prediction",
    ).save_pretrained(model / "scheduler")
    processors = {
        "feature_extractor_vae": {
            "size": {"shortest_edge": CONDITION},
            "crop_size": {"height": CONDITION, "width": CONDITION},
            "image_mean": [0.5] * 3,
            "image_std": [0.5] * 3,
        },
        "feature_extractor_clip": {
            "size": {"shortest_edge": 16},
            "crop_size": {"height": 16, "width": 16},
            "image_mean": [0.481, 0.458, 0.408],
            "image_std": [0.269, 0.261, 0.276],
        },
    }
    for name, config in processors.items():
        (model / name).mkdir()
        base = {
            "image_processor_type": "CLIPImageProcessor",
            "do_resize": True,
            "do_center_crop": True,
            "do_normalize": True,
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "resample": 3,
        }
        (model / name / "preprocessor_config.json").write_text(json.dumps(base | config))
    ramping = [0.1 + 0.1 * k for k in range(TOKENS)]
    (model / "model_index.json").write_text(json.dumps({"_class_name": "Zero123PlusPipeline", "ramping_coefficients": ramping}))
    controlnet = root / "controlnet-zp12-normal-gen-v1"
    torch.manual_seed(seed + 1)
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 8))
    for p in net.parameters():  # from_unet zero-initialises the output convs: give them weight so control matters
        torch.nn.init.normal_(p, std=0.05) if p.dim() > 1 and p.abs().sum() == 0 else None
    net.save_pretrained(controlnet, safe_serialization=True)
    return model, controlnet


def build_tiny_text_to_image(root: Path, seed: int = 0) -> Path:
    """A Stable Diffusion 2.1-base style folder (PNDM scheduler config as shipped) with tiny weights."""
    import torch
    from diffusers import PNDMScheduler

    torch.manual_seed(seed)
    model = root / "stable-diffusion-2-1-base"
    save_unet(model / "unet")
    save_vae(model / "vae")
    save_text_encoder(model / "text_encoder")
    save_tokenizer(model / "tokenizer")
    PNDMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        skip_prk_steps=True,
        set_alpha_to_one=False,
        steps_offset=1,
    ).save_pretrained(model / "scheduler")
    index = {
        "_class_name": "StableDiffusionPipeline",
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "safety_checker": [None, None],
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
    }
    (model / "model_index.json").write_text(json.dumps(index))
    return model


def assert_refuses_pickled_and_incomplete(load, source: Path, folder: Path, weights_part: str, missing_part: str) -> None:
    """A diffusers folder whose `weights_part` holds only a pickled .bin, then one without
    `missing_part`, must each be refused by `load` with the code and the part named."""
    shutil.copytree(source, folder)
    weights_file = next((folder / weights_part).glob("*.safetensors"))
    weights_file.rename(weights_file.with_suffix(".bin"))
    with pytest.raises(PriorInputError, match="no .safetensors") as info:
        load(folder)
    assert info.value.code == "weights_missing"
    shutil.rmtree(folder / missing_part)
    with pytest.raises(PriorInputError, match=f"missing: {missing_part}"):
        load(folder)
