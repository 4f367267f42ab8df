"""Finding the trained shape models (SAE, LIN) the pipeline runs with, and checking them.

SAE: the weights file or training-run folder the caller's `Locations` names (an argument, or
$LATENTDREAMER_SAE_WEIGHTS read at the edge), else the shipped `sae.safetensors`
(models/trained_sae.py). LIN: the same with $LATENTDREAMER_LIN_WEIGHTS and the shipped
`lin.safetensors`, used only if its card pairs it with that SAE.

The rule for every weights file, at every load: a file that is there is checked by sha256
against its model card, and a file that fails the check (or an explicit path that does not
exist) stops the run with an error naming the file and the fix. Nothing falls back silently.
The one fall-back is for weights that are simply not installed (a checkout without them):
without the shipped SAE the pipeline optimises the SDF grid directly from the visual hull,
without the shipped LIN it starts from the hull's encoding; the stats (`shape_prior`) say
which. `locate_shape_weights` and `check_shape_weights` need no torch, so the worker's
`hello` reports exactly what a job will do, and the CLI checks before any compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

import latentdreamer
from latentdreamer.locations import ChosenFile, Locations

NO_SAE = "none (no SAE weights installed: SDF grid optimised directly from the visual hull)"
PACKAGE_WEIGHTS = Path(latentdreamer.__file__).resolve().parent / "weights"
"""models.trained_sae.DEFAULT_SAE_WEIGHTS and models.lin.DEFAULT_LIN_WEIGHTS live here
(named without importing torch; a test keeps them equal)."""

RUN_META = "checkpoint.json"
"""models.checkpoint.META, named here because importing that module loads torch."""
SHIPPED_HINT = (
    "reinstall the backend (`pip install --force-reinstall latentdreamer`, or the add-on's Install "
    "Backend); in a git checkout run `git lfs pull` and `git checkout -- backend/latentdreamer/weights/`"
)


@dataclass(frozen=True)
class WeightsLocation:
    """Where one shape model's weights are looked for, and how they were chosen."""

    name: str
    path: Path
    source: str
    """'argument' (a path given to the command), 'env' (its environment variable) or 'package'."""
    variable: str = ""
    """The environment variable, when `source` is 'env'."""

    @property
    def explicit(self) -> bool:
        return self.source != "package"

    def hint(self) -> str:
        """How to fix a bad file here: another path for an explicit one, a reinstall for ours."""
        if self.source == "env":
            return f"point {self.variable} at a .safetensors file with its .json model card beside it, or unset it to use the shipped weights"
        if self.source == "argument":
            return "give a .safetensors file with its .json model card beside it, or a training-run folder"
        return SHIPPED_HINT


def locate_shape_weights(locations: Locations) -> tuple[WeightsLocation, WeightsLocation]:
    """(SAE, LIN) locations by the module's order; nothing is read."""

    def pick(name: str, chosen: ChosenFile | None, default: str) -> WeightsLocation:
        if chosen is not None:
            return WeightsLocation(name, chosen.path, chosen.origin, chosen.variable)
        return WeightsLocation(name, PACKAGE_WEIGHTS / default, "package")

    return (pick("sae", locations.sae_weights, "sae.safetensors"), pick("lin", locations.lin_weights, "lin.safetensors"))


def check_weights_file(loc: WeightsLocation) -> bool:
    """True when the weights at `loc` are there and match their card; False when shipped
    weights are simply not installed; else the WeightsError naming the file and the fix."""
    from latentdreamer.models.weights_file import WeightsError, verify_weights

    if loc.path.is_dir():
        if not loc.explicit:
            raise WeightsError(f"{loc.path} is a folder, not the {loc.name.upper()} weights file", SHIPPED_HINT)
        if not (loc.path / RUN_META).is_file():
            raise WeightsError(f"{loc.path} is a folder but not a training run (it has no {RUN_META})", loc.hint())
        return True  # a training-run folder: its checkpoint is checked when it loads
    if not loc.path.exists() and not loc.explicit:
        return False
    verify_weights(loc.path, loc.hint())
    return True


def check_shape_weights(locations: Locations) -> dict[str, bool]:
    """{'sae': usable, 'lin': usable}, checking every file that is there (no torch, ~20 ms).

    Raises the first WeightsError: a run with damaged weights must not start at all.
    """
    from latentdreamer.models.lin import check_pairing
    from latentdreamer.models.weights_file import read_card

    sae, lin = locate_shape_weights(locations)
    sae_ok = check_weights_file(sae)
    lin_ok = check_weights_file(lin)
    if sae_ok and lin_ok and lin.explicit and sae.path.is_file() and lin.path.is_file():
        check_pairing(read_card(lin.path), read_card(sae.path).get("sha256", ""), lin_name=str(lin.path))
    return {"sae": sae_ok, "lin": lin_ok and sae_ok}


@dataclass
class ShapePrior:
    sae: torch.nn.Module | None
    lin: torch.nn.Module | None
    source: str
    """Where the SAE came from, or why there is none (for stats and logs)."""


def _load_sae(loc: WeightsLocation, device: torch.device) -> tuple[torch.nn.Module | None, str]:
    from latentdreamer.models.trained_sae import load_sae, load_sae_checkpoint

    if loc.path.is_dir() and loc.explicit:
        return load_sae_checkpoint(loc.path, device), f"checkpoint {loc.path}"
    if not check_weights_file(loc):
        return None, NO_SAE
    return load_sae(loc.path, device), str(loc.path)


def _load_lin(device: torch.device, sae_weights: Path | None, loc: WeightsLocation) -> torch.nn.Module | None:
    """The LIN at `loc` (weights file or training-run folder), if it was trained against this
    SAE; a LIN paired with another SAE gives meaningless latents. An explicit LIN that does
    not pair is an error; the shipped one is skipped for an SAE of your own (there is no
    LIN for it), which the stats show as `init hull`."""
    from latentdreamer.models.lin import load_lin, load_lin_checkpoint
    from latentdreamer.models.weights_file import WeightsError, read_card, sha256_file

    if sae_weights is None:
        return None
    if loc.path.is_dir() and loc.explicit:
        model, sae_record = load_lin_checkpoint(loc.path, device)
        if sae_record.get("sha256") != sha256_file(sae_weights):
            raise WeightsError(
                f"the LIN run {loc.path} was trained against another SAE than {sae_weights}",
                "use the SAE it was trained with, or retrain the LIN for this SAE",
            )
        return model
    if not check_weights_file(loc):
        return None
    if not loc.explicit and read_card(loc.path).get("sae_sha256") != read_card(sae_weights).get("sha256"):
        return None
    return load_lin(loc.path, sae_card=sae_weights, device=device)


def load_shape_prior(device: torch.device, locations: Locations, use_sae: bool = True, use_lin: bool = True) -> ShapePrior:
    """The SAE and LIN `locations` names (weights files or training-run folders), else the shipped ones."""
    if not use_sae:
        return ShapePrior(None, None, "disabled (SDF grid optimised directly from the visual hull)")
    sae_loc, lin_loc = locate_shape_weights(locations)
    sae, source = _load_sae(sae_loc, device)
    sae_file = sae_loc.path if sae is not None and sae_loc.path.is_file() else None
    lin = _load_lin(device, sae_file, lin_loc) if use_lin else None
    return ShapePrior(sae=sae, lin=lin, source=source)
