"""An ensemble's model.pt: one weights-only file holding every member's model record.

    {"format": "transfer_gui.ensemble", "schema_version": 1, "class_names": [...],
     "preprocessing": {...the ensemble's input, model.py...}, "members": [record, ...],
     "selection": {...how the members were chosen: numbers and names...},
     "ood": ..., "feature_reference": ...}   (optional, on the members' features side by side)

Each member record is exactly what core/model_file.py writes for a single model and is checked
by the same code on load; `torch.load(weights_only=True)` reads the file, so nothing is ever
unpickled. `load_model` (core/model_file.py) returns a `LoadedEnsemble` for such a file, so
every reader of a run's model (evaluate, predict, export) takes an ensemble as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from torch import nn

from ..atomic import atomic_torch_save
from ..errors import ConfigError, ModelFileError
from ..model_file import (ENSEMBLE_FORMAT, LoadedModel, _checked_preprocessing, model_from_record,
                          model_record)
from ..models import BackboneSpec, TransferModel
from ..ood import checked_blocks
from .model import EnsembleModel, ensemble_preprocessing

ENSEMBLE_SCHEMA_VERSION = 1
ENSEMBLE_MODE = "ensemble"
MAX_MEMBERS = 5


@dataclass
class LoadedEnsemble(LoadedModel):
    """A LoadedModel whose `model` is an EnsembleModel; `members` are the members as models."""

    members: list[LoadedModel] = field(default_factory=list)


def _no_network() -> nn.Module:
    raise ConfigError("An ensemble has no ImageNet network of its own: each member has one.")


def ensemble_spec(members: Sequence[BackboneSpec]) -> BackboneSpec:
    """A registry-like entry describing the ensemble (never registered): the names, size and
    cost of its members together, its input (model.py) and its features' length."""
    names = [m.name for m in members]
    return BackboneSpec(
        name="ensemble:" + "+".join(names),
        display_name="Ensemble of " + " + ".join(m.display_name for m in members),
        family="ensemble", num_params=sum(m.num_params for m in members),
        gflops=sum(m.gflops for m in members), imagenet_top1=0.0,
        preprocessing=ensemble_preprocessing([m.preprocessing for m in members]),
        feature_dim=sum(m.feature_dim for m in members), cam_layer="",
        build_network=_no_network, strip_head=lambda net: net, stages=lambda net: [])


def save_ensemble(path: str | Path, members: Sequence[tuple[TransferModel, BackboneSpec]],
                  class_names: list[str], dropout: float, *,
                  selection: Optional[dict[str, Any]] = None,
                  blocks: Optional[dict[str, Any]] = None) -> Path:
    """Write the ensemble's model.pt atomically.

    Args:
        members: (model, spec) of each member, each a feature-extraction model of `class_names`.
        selection: How the members were chosen (JSON-like: names, numbers, lists, dicts).
        blocks: core/ood.py's `training_blocks` on the members' features side by side.
    """
    if not 2 <= len(members) <= MAX_MEMBERS:
        raise ConfigError(f"An ensemble has 2 to {MAX_MEMBERS} members, not {len(members)}.")
    specs = [spec for _, spec in members]
    return atomic_torch_save(path, {
        **(blocks or {}),
        "format": ENSEMBLE_FORMAT,
        "schema_version": ENSEMBLE_SCHEMA_VERSION,
        "class_names": list(class_names),
        "preprocessing": ensemble_preprocessing([s.preprocessing for s in specs]).to_dict(),
        "members": [model_record(model, spec, class_names, "feature_extraction", dropout)
                    for model, spec in members],
        "selection": selection or {},
    })


def ensemble_from_record(data: dict[str, Any], path: Path) -> LoadedEnsemble:
    """The ensemble a record read from `path` describes; a ModelFileError names the first bad
    fact (a member's own facts are checked as a single model file's are)."""
    def bad(why: str) -> ModelFileError:
        return ModelFileError(f"{path} is damaged or was edited by hand: {why}. Use the model.pt "
                              f"that `transfer-gui ensemble` wrote, or build it again.",
                              path=str(path))

    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad(f"schema_version is {version!r}, not a whole number from 1")
    if version > ENSEMBLE_SCHEMA_VERSION:
        raise ModelFileError(f"{path} was written by a newer transfer_gui; update to read it.",
                             path=str(path))
    records = data.get("members")
    if not isinstance(records, list) or not 2 <= len(records) <= MAX_MEMBERS:
        raise bad(f"it does not hold 2 to {MAX_MEMBERS} members")
    names = data.get("class_names")
    members = []
    for k, record in enumerate(records):
        try:
            member = model_from_record(record, path)
        except ModelFileError as exc:
            raise ModelFileError(f"Member {k + 1} of the ensemble: {exc}", path=str(path)) from None
        if member.class_names != names:
            raise bad(f"member {k + 1} ({member.spec.name}) has other classes than the ensemble")
        members.append(member)
    preprocessing = _checked_preprocessing(data.get("preprocessing"), bad)
    expected = ensemble_preprocessing([m.preprocessing for m in members])
    if preprocessing != expected:
        raise bad("its preprocessing is not its largest member's")
    spec = ensemble_spec([m.spec for m in members])
    model = EnsembleModel([m.model for m in members], [m.preprocessing for m in members],
                          [m.spec.feature_dim for m in members]).eval()
    blocks = checked_blocks(data, len(names), spec.feature_dim, bad)
    return LoadedEnsemble(model, spec, list(names), preprocessing, ENSEMBLE_MODE, str(path),
                          blocks, members=members)


def is_ensemble(loaded: LoadedModel) -> bool:
    return isinstance(loaded, LoadedEnsemble)
