"""Zero123++ v1.2 and its normal ControlNet, as our own sampler over stock diffusers modules.

Only weights come from outside (a diffusers-layout folder of safetensors); no hub code is
ever loaded. The conditioning follows the published model (docs/design.md §5 "Multi-view
diffusion"): global conditioning through the empty prompt's text embedding plus the ramped
CLIP image embedding, local conditioning through reference attention, a shifted/scaled
latent space, Euler-ancestral sampling with trailing timesteps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from latentdreamer.api import Cancelled
from latentdreamer.priors.diffusers_folder import read_json, require_folder, require_safetensors, variant
from latentdreamer.priors.errors import PriorInputError
from latentdreamer.priors.reference_attention import ReferenceStore, install_reference_attention

STAGE = "multi-view diffusion"
LATENT_SHIFT = 0.22
LATENT_SCALE = 0.75
IMAGE_SCALE = 0.8 / 0.5
"""Zero123++ v1.2 trains in a rescaled latent and image space; sampling undoes both."""
DEFAULT_STEPS = 28
DEFAULT_GUIDANCE = 4.0
WIDTH, HEIGHT = 640, 960
COMPONENTS = (
    "unet",
    "vae",
    "text_encoder",
    "tokenizer",
    "vision_encoder",
    "feature_extractor_vae",
    "feature_extractor_clip",
    "scheduler",
)


def _processor_transform(image: torch.Tensor, config: dict) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1] -> the tensor a CLIP-style image processor with `config` makes.

    Read from the processor's JSON rather than instantiating transformers' processor classes,
    whose back ends change between versions; the steps (shortest-edge resize, centre crop,
    mean/std normalisation) are the documented ones.
    """
    size = config.get("size", 224)
    crop = config.get("crop_size", size)
    if config.get("do_resize", True):
        short = (
            size.get("shortest_edge", min(size.get("height", 0), size.get("width", 0))) if isinstance(size, dict) else int(size)
        )
        h, w = image.shape[-2:]
        scale = short / min(h, w)
        image = F.interpolate(
            image, size=(round(h * scale), round(w * scale)), mode="bicubic", antialias=True, align_corners=False
        )
    if config.get("do_center_crop", True):
        ch, cw = (crop["height"], crop["width"]) if isinstance(crop, dict) else (int(crop), int(crop))
        h, w = image.shape[-2:]
        top, left = max(0, (h - ch) // 2), max(0, (w - cw) // 2)
        image = image[..., top : top + ch, left : left + cw]
    image = image.clamp(0.0, 1.0)
    if config.get("do_normalize", True):
        mean = image.new_tensor(config.get("image_mean", [0.5, 0.5, 0.5])).view(1, 3, 1, 1)
        std = image.new_tensor(config.get("image_std", [0.5, 0.5, 0.5])).view(1, 3, 1, 1)
        image = (image - mean) / std
    return image


@dataclass
class Zero123Plus:
    """Loaded modules plus what the sampler needs from the configs; build with `load`."""

    unet: torch.nn.Module
    vae: torch.nn.Module
    text_encoder: torch.nn.Module
    tokenizer: object
    vision_encoder: torch.nn.Module
    scheduler_config: dict
    vae_processor: dict
    clip_processor: dict
    ramping: list[float]
    controlnet: torch.nn.Module | None
    store: ReferenceStore
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        controlnet_dir: str | Path | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
    ) -> Zero123Plus:
        """Build from a diffusers-layout folder (the real weights and the tests' tiny ones alike)."""
        from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer, CLIPVisionModelWithProjection

        root = Path(model_dir)
        require_folder(root, "zero123plus", COMPONENTS, ("model_index.json",), ("unet", "vae", "text_encoder", "vision_encoder"))
        device = torch.device(device)
        dtype = dtype or (torch.float16 if device.type == "cuda" else torch.float32)
        index = read_json(root / "model_index.json")
        ramping = index.get("ramping_coefficients")
        if not ramping:
            raise PriorInputError(
                f"{root / 'model_index.json'} has no ramping_coefficients",
                "the folder is not Zero123++ v1.2",
                code="weights_missing",
            )
        common = {"use_safetensors": True, "local_files_only": True}
        unet = UNet2DConditionModel.from_pretrained(root / "unet", **common, **variant(root / "unet"))
        vae = AutoencoderKL.from_pretrained(root / "vae", **common, **variant(root / "vae"))
        text_encoder = CLIPTextModel.from_pretrained(root / "text_encoder", **common, **variant(root / "text_encoder"))
        vision_encoder = CLIPVisionModelWithProjection.from_pretrained(
            root / "vision_encoder", **common, **variant(root / "vision_encoder")
        )
        tokenizer = CLIPTokenizer.from_pretrained(root / "tokenizer", local_files_only=True)
        controlnet = None
        if controlnet_dir is not None:
            require_safetensors(Path(controlnet_dir))
            controlnet = ControlNetModel.from_pretrained(Path(controlnet_dir), **common, **variant(Path(controlnet_dir)))
        store = install_reference_attention(unet)
        modules = [unet, vae, text_encoder, vision_encoder] + ([controlnet] if controlnet is not None else [])
        for module in modules:
            module.to(device=device, dtype=dtype).eval().requires_grad_(False)
        return cls(
            unet=unet,
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            vision_encoder=vision_encoder,
            scheduler_config=read_json(root / "scheduler" / "scheduler_config.json"),
            vae_processor=read_json(root / "feature_extractor_vae" / "preprocessor_config.json"),
            clip_processor=read_json(root / "feature_extractor_clip" / "preprocessor_config.json"),
            ramping=[float(r) for r in ramping],
            controlnet=controlnet,
            store=store,
            device=device,
            dtype=dtype,
        )

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def tile_size(self) -> int:
        """Side of one view in the grid: the condition size the VAE processor works at (320)."""
        crop = self.vae_processor.get("crop_size", WIDTH // 2)
        return int(crop["height"] if isinstance(crop, dict) else crop)

    def _make_scheduler(self):
        from diffusers import EulerAncestralDiscreteScheduler

        return EulerAncestralDiscreteScheduler.from_config(self.scheduler_config, timestep_spacing="trailing")

    @torch.no_grad()
    def _prompt_embeds(self, condition: torch.Tensor, guidance: bool) -> torch.Tensor:
        """[uncond, cond] (or [cond]) token embeddings: empty prompt (+ ramped image embedding)."""
        ids = self.tokenizer(
            "", padding="max_length", max_length=self.tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids.to(self.device)
        empty = self.text_encoder(ids)[0].to(self.dtype)
        clip_in = _processor_transform(condition, self.clip_processor).to(self.device, self.dtype)
        image_embeds = self.vision_encoder(clip_in).image_embeds
        if len(self.ramping) != empty.shape[1] or image_embeds.shape[-1] != empty.shape[-1]:
            raise PriorInputError(
                f"inconsistent Zero123++ folder: {len(self.ramping)} ramping coefficients for {empty.shape[1]} tokens, "
                f"image embedding {image_embeds.shape[-1]} vs text {empty.shape[-1]}",
                "re-download the weights with `latentdreamer weights download`",
                code="weights_missing",
            )
        ramp = empty.new_tensor(self.ramping).view(1, -1, 1)
        cond = empty + image_embeds.to(self.dtype).unsqueeze(1) * ramp
        return torch.cat([empty, cond]) if guidance else cond

    @torch.no_grad()
    def _reference_latents(self, condition: torch.Tensor, guidance: bool, generator: torch.Generator) -> torch.Tensor:
        """VAE latent samples of the condition (and of a zero image for the unconditional
        branch), deliberately *not* multiplied by the VAE scaling factor, as trained."""
        pixels = _processor_transform(condition, self.vae_processor).to(self.device, self.dtype)
        if guidance:
            pixels = torch.cat([torch.zeros_like(pixels), pixels])
        return self.vae.encode(pixels).latent_dist.sample(generator=generator)

    @torch.no_grad()
    def sample(
        self,
        condition: np.ndarray,
        *,
        steps: int = DEFAULT_STEPS,
        guidance: float = DEFAULT_GUIDANCE,
        seed: int = 0,
        width: int = WIDTH,
        height: int = HEIGHT,
        control: np.ndarray | None = None,
        control_scale: float = 1.0,
        on_step: Callable[[int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """One grid image (height, width, 3) in [0, 1] from a (S, S, 3) condition image in [0, 1].

        With `control` (the colour grid, (height, width, 3) in [0, 1]) the normal ControlNet
        steers the main pass and the result is the normal-map grid.
        """
        if control is not None and self.controlnet is None:
            raise ValueError("a control image was given but no ControlNet is loaded")
        factor = self.vae_scale_factor
        if width % factor or height % factor:
            raise ValueError(f"width and height must be multiples of {factor}, got {width}x{height}")
        cfg = guidance > 1.0
        generator = torch.Generator("cpu").manual_seed(int(seed))
        cond_image = torch.from_numpy(np.ascontiguousarray(condition, dtype=np.float32)).permute(2, 0, 1)[None]
        prompt = self._prompt_embeds(cond_image, cfg)
        reference = self._reference_latents(cond_image, cfg, generator)
        control_in = None
        if control is not None:
            control_in = torch.from_numpy(np.ascontiguousarray(control, dtype=np.float32)).permute(2, 0, 1)[None]
            control_in = (control_in * 2.0 - 1.0).to(self.device, self.dtype)
            control_in = torch.cat([control_in] * 2) if cfg else control_in

        scheduler = self._make_scheduler()
        scheduler.set_timesteps(steps, device=self.device)
        shape = (1, self.unet.config.in_channels, height // factor, width // factor)
        latents = torch.randn(shape, generator=generator).to(self.device, torch.float32) * scheduler.init_noise_sigma
        total = len(scheduler.timesteps)
        for i, t in enumerate(scheduler.timesteps):
            if should_cancel is not None and should_cancel():
                raise Cancelled(None, STAGE)
            model_in = torch.cat([latents] * 2) if cfg else latents
            model_in = scheduler.scale_model_input(model_in, t).to(self.dtype)
            noise = torch.randn(reference.shape, generator=generator).to(self.device, torch.float32)
            ref_in = scheduler.add_noise(reference.float(), noise, t.reshape(1))
            ref_in = scheduler.scale_model_input(ref_in, t).to(self.dtype)
            with self.store.recording():
                self.unet(ref_in, t, encoder_hidden_states=prompt, return_dict=False)
            residuals = {}
            if control_in is not None:
                down, mid = self.controlnet(
                    model_in,
                    t,
                    encoder_hidden_states=prompt,
                    controlnet_cond=control_in,
                    conditioning_scale=control_scale,
                    return_dict=False,
                )
                residuals = {"down_block_additional_residuals": down, "mid_block_additional_residual": mid}
            with self.store.reading():
                pred = self.unet(model_in, t, encoder_hidden_states=prompt, return_dict=False, **residuals)[0].float()
            if cfg:
                uncond, cond = pred.chunk(2)
                pred = uncond + guidance * (cond - uncond)
            latents = scheduler.step(pred, t, latents, generator=generator, return_dict=False)[0]
            if on_step is not None:
                on_step(i + 1, total)
        return self.decode(latents)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        latents = latents / LATENT_SCALE + LATENT_SHIFT
        latents = latents / self.vae.config.scaling_factor
        image = self.vae.decode(latents.to(self.dtype), return_dict=False)[0].float() * IMAGE_SCALE
        image = (image / 2 + 0.5).clamp(0, 1)
        return image[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)
