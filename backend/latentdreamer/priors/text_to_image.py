"""Text -> one object image, the front of the paper's text-to-3D use (prompt -> image -> views -> mesh).

A Stable Diffusion-family model (SD 2.1-base by default) is assembled from the stock
diffusers and transformers classes out of a diffusers-layout folder of safetensors: no hub
code, no pickled weights, no safety-checker model. The prompt is steered towards what the
image-to-3D stages want: one whole object, centred, on a plain light background that the
plain-background cut-out can remove.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentdreamer.api import Callbacks, Cancelled, GenerateSettings
from latentdreamer.locations import Locations
from latentdreamer.priors.diffusers_folder import read_json, require_folder, variant
from latentdreamer.priors.errors import PriorInputError

log = logging.getLogger(__name__)

STAGE = "text-to-image"
COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
WEIGHT_PARTS = ("unet", "vae", "text_encoder")
OBJECT_SUFFIX = "a single object, centred, full view, plain white background, studio lighting"
"""Appended to the user's prompt: Zero123++ wants one uncropped object it can cut out."""
NEGATIVE_PROMPT = "multiple objects, cropped, cut off, out of frame, text, watermark, busy background, scenery, blurry"
DEFAULT_GUIDANCE = 7.5
PRESET_STEPS = {"tiny": 2, "draft": 15, "standard": 25, "high": 50}
"""Denoising steps per preset with a multistep DPM-Solver (25 is its usual quality point)."""


def compose_prompt(prompt: str, suffix: str | None = None) -> str:
    """The user's words first (they carry the most weight in CLIP), then the framing suffix
    (None: `OBJECT_SUFFIX`; "": none)."""
    prompt = prompt.strip()
    if not prompt:
        raise PriorInputError("the prompt is empty", 'describe one object, e.g. --prompt "a red teapot"')
    suffix = (OBJECT_SUFFIX if suffix is None else suffix).strip()
    return f"{prompt.rstrip(' ,.')}, {suffix}" if suffix else prompt


@dataclass
class TextToImage:
    """A loaded Stable Diffusion pipeline (stock modules) and its device; build with `load`."""

    pipe: object
    device: torch.device

    @classmethod
    def load(cls, model_dir: str | Path, device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> TextToImage:
        """Component by component from a diffusers-layout folder, so nothing but configs and
        safetensors is read (the folder's model_index.json may name classes we never import)."""
        from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, StableDiffusionPipeline, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        root = Path(model_dir)
        require_folder(root, "text-to-image", COMPONENTS, ("scheduler/scheduler_config.json",), WEIGHT_PARTS)
        device = torch.device(device)
        dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
        common = {"use_safetensors": True, "local_files_only": True}
        unet = UNet2DConditionModel.from_pretrained(root / "unet", **common, **variant(root / "unet"))
        vae = AutoencoderKL.from_pretrained(root / "vae", **common, **variant(root / "vae"))
        text_encoder = CLIPTextModel.from_pretrained(root / "text_encoder", **common, **variant(root / "text_encoder"))
        tokenizer = CLIPTokenizer.from_pretrained(root / "tokenizer", local_files_only=True)
        scheduler = DPMSolverMultistepScheduler.from_config(read_json(root / "scheduler" / "scheduler_config.json"))
        for module in (unet, vae, text_encoder):
            module.eval().requires_grad_(False)
        pipe = StableDiffusionPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        pipe.to(device=device, dtype=dtype)
        pipe.set_progress_bar_config(disable=True)
        return cls(pipe=pipe, device=device)

    @property
    def native_size(self) -> int:
        """The square side the UNet was trained at (512 for SD 2.1-base)."""
        return int(self.pipe.unet.config.sample_size) * self.pipe.vae_scale_factor

    @torch.no_grad()
    def generate(
        self,
        prompt: str,
        *,
        suffix: str | None = None,
        negative_prompt: str | None = NEGATIVE_PROMPT,
        steps: int = PRESET_STEPS["standard"],
        guidance: float = DEFAULT_GUIDANCE,
        seed: int = 0,
        size: int | None = None,
        on_step: Callable[[int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """One (size, size, 3) float image in [0, 1]; the same seed gives the same image.

        Raises `Cancelled` between denoising steps once `should_cancel()` is true.
        """
        size = size or self.native_size
        text = compose_prompt(prompt, suffix)
        if should_cancel is not None and should_cancel():
            raise Cancelled(None, STAGE)

        def step_end(_pipe, i: int, _t, kwargs: dict) -> dict:
            if on_step is not None:
                on_step(i + 1, steps)
            if should_cancel is not None and i + 1 < steps and should_cancel():
                raise Cancelled(None, STAGE)
            return kwargs

        out = self.pipe(
            text,
            negative_prompt=negative_prompt or None,
            height=size,
            width=size,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=torch.Generator("cpu").manual_seed(int(seed)),
            output_type="np",
            callback_on_step_end=step_end,
        )
        return np.clip(np.asarray(out.images[0], dtype=np.float32), 0.0, 1.0)


def prompt_image(
    prompt: str,
    path: str | Path,
    settings: GenerateSettings,
    callbacks: Callbacks | None = None,
    locations: Locations | None = None,
    suffix: str | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> Path:
    """Make the object image for `prompt` and save it as a PNG at `path` (the input of the
    single-image path). Missing weights fail before torch loads any module; the model is
    released afterwards so the multi-view prior that follows has the GPU to itself."""
    from latentdreamer.device import resolve_device
    from latentdreamer.io.images import write_png
    from latentdreamer.priors.model_store import require
    from latentdreamer.priors.provider import StepReporter

    callbacks = callbacks or Callbacks()
    folder = require(("text-to-image",), locations or Locations())["text-to-image"]
    compose_prompt(prompt, suffix)  # an empty prompt fails here, before the model loads
    device = resolve_device(settings.device)
    if device.type == "cpu":
        log.warning("text-to-image on the CPU: expect minutes (a CUDA GPU takes seconds)")
    model = TextToImage.load(folder, device=device)
    steps = PRESET_STEPS[settings.preset]
    report = StepReporter(callbacks, steps, span, stage=STAGE, message="text-to-image diffusion")
    image = model.generate(
        prompt, suffix=suffix, steps=steps, seed=settings.seed, on_step=report, should_cancel=callbacks.should_cancel
    )
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return write_png(path, image)
