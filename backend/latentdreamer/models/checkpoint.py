"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint is `checkpoint.safetensors` (model parameters, optimiser moments, torch RNG
state) plus `checkpoint.json` (step, configs, optimiser hyper-parameters, accumulated wall
time, the commands of every run so far). Both are written under temporary names and renamed,
so an interrupted save leaves the previous checkpoint intact. Shared by the SAE and LIN
trainers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

TENSORS = "checkpoint.safetensors"
META = "checkpoint.json"


def checkpoint_exists(directory: str | os.PathLike) -> bool:
    d = Path(directory)
    return (d / TENSORS).is_file() and (d / META).is_file()


def _optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, per_param in state["state"].items():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_from_flat(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for idx, values in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    directory: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    meta: dict[str, Any],
) -> None:
    """Save model, optimiser, RNG and `meta` (JSON-serialisable) as of `step` finished steps."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    opt_tensors, opt_meta = _optimizer_to_flat(optimizer)
    tensors.update({k: v.detach().cpu().contiguous().clone() for k, v in opt_tensors.items()})
    tensors["rng.torch"] = torch.get_rng_state()
    full_meta = dict(meta)
    full_meta["step"] = step
    full_meta["optimizer"] = opt_meta
    # The step is stored in both files; a crash between the two renames leaves them
    # disagreeing, which load_checkpoint reports instead of resuming from a mix.
    tensors["meta.step"] = torch.tensor([step], dtype=torch.int64)
    tmp_t, tmp_m = d / (TENSORS + ".tmp"), d / (META + ".tmp")
    save_file(tensors, str(tmp_t))
    tmp_m.write_text(json.dumps(full_meta, indent=1, sort_keys=True) + "\n")
    os.replace(tmp_t, d / TENSORS)
    os.replace(tmp_m, d / META)


def load_checkpoint(
    directory: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, Any]:
    """Restore model (and optimiser, RNG) in place; return the JSON metadata (with 'step')."""
    d = Path(directory)
    if not checkpoint_exists(d):
        raise FileNotFoundError(f"no checkpoint in {d} (expected {TENSORS} and {META})")
    meta = json.loads((d / META).read_text())
    tensors = load_file(str(d / TENSORS))
    if int(tensors["meta.step"][0]) != meta["step"]:
        raise RuntimeError(
            f"checkpoint in {d} is inconsistent (tensors at step {int(tensors['meta.step'][0])}, "
            f"JSON at step {meta['step']}): the last save was interrupted; delete {META} and "
            f"{TENSORS} to restart, or restore them from a backup"
        )
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(model_state, strict=True)
    if optimizer is not None:
        optimizer.load_state_dict(_optimizer_from_flat(tensors, meta["optimizer"]))
    torch.set_rng_state(tensors["rng.torch"])
    return meta
