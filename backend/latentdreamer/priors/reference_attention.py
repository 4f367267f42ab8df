"""Reference attention: the condition image speaks to every self-attention layer of the UNet.

Zero123++ (docs/design.md §5) runs the UNet once on the noised latent of the condition image,
letting each self-attention layer (`attn1`) record the tokens it sees; in the pass over the
real sample each of those layers attends to its own tokens *and* the recorded ones (they are
appended to keys and values). That is how pixels of the condition image reach all six views
without a spatial correspondence. Implemented as a diffusers attention processor so the
UNet itself stays stock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0


class ReferenceStore:
    """Tokens recorded in the reference pass, per layer; `mode` is what the processors do now."""

    def __init__(self) -> None:
        self.mode = "off"
        self.tokens: dict[str, torch.Tensor] = {}

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.tokens.clear()
        self.mode = "record"
        try:
            yield
        finally:
            self.mode = "off"

    @contextmanager
    def reading(self) -> Iterator[None]:
        self.mode = "read"
        try:
            yield
        finally:
            self.mode = "off"
            self.tokens.clear()


class ReferenceAttnProcessor:
    """Self-attention that records its input tokens, or attends to them as extra keys/values."""

    def __init__(self, name: str, store: ReferenceStore) -> None:
        self.name = name
        self.store = store
        self.inner = AttnProcessor2_0()

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args,
        **kwargs,
    ) -> torch.Tensor:
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        if self.store.mode == "record":
            self.store.tokens[self.name] = context
        elif self.store.mode == "read":
            reference = self.store.tokens.get(self.name)
            if reference is None:
                raise RuntimeError(f"reference attention: layer {self.name} has no recorded tokens (did the reference pass run?)")
            context = torch.cat([context, reference.to(context.dtype)], dim=1)
        return self.inner(attn, hidden_states, context, attention_mask, temb)


def install_reference_attention(unet: torch.nn.Module) -> ReferenceStore:
    """Give every `attn1` of the UNet a reference processor; other layers keep the stock one."""
    store = ReferenceStore()
    processors = {}
    for name in unet.attn_processors:
        layer = name.removesuffix(".processor")
        processors[name] = ReferenceAttnProcessor(layer, store) if layer.endswith("attn1") else AttnProcessor2_0()
    unet.set_attn_processor(processors)
    return store
