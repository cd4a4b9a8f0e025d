"""`model.pt`: a trained classifier as a weights-only file (state dict + the facts to rebuild it).

Everything in it is a tensor, string, number, list or dict, so `torch.load(weights_only=True)`
reads it and nothing is ever unpickled.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from .atomic import atomic_torch_save
from .errors import ModelFileError, UserError, WeightsError
from .models import BackboneSpec, Preprocessing, TransferModel, get_backbone, make_model
from .models.weights import load_into
from .ood import checked_blocks

MODEL_FORMAT = "transfer_gui.model"
ENSEMBLE_FORMAT = "transfer_gui.ensemble"  # several models averaged: core/ensemble/
MODEL_SCHEMA_VERSION = 1
PREPROCESSING_KEYS = ("input_size", "resize_size", "mean", "std")
INPUT_SIZE_RANGE = (8, 2048)  # pixels; the backbones use 224 to 297 (the test one 32)


@dataclass
class LoadedModel:
    """A model read back from model.pt, in eval mode on the CPU."""

    model: TransferModel
    spec: BackboneSpec
    class_names: list[str]
    preprocessing: Preprocessing
    mode: str
    path: str
    blocks: dict[str, Any] = field(default_factory=dict)  # optional, checked: see core/ood.py


def save_model(path: str | Path, model: TransferModel, spec: BackboneSpec, class_names: list[str],
               mode: str, dropout: float, state_dict: dict[str, torch.Tensor] | None = None,
               blocks: Optional[dict[str, Any]] = None) -> Path:
    """Write model.pt atomically; `blocks` adds optional weights-only blocks (core/ood.py's
    `training_blocks`: "ood", "feature_reference")."""
    return atomic_torch_save(path, model_record(model, spec, class_names, mode, dropout,
                                                state_dict, blocks))


def model_record(model: TransferModel, spec: BackboneSpec, class_names: list[str], mode: str,
                 dropout: float, state_dict: dict[str, torch.Tensor] | None = None,
                 blocks: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """What model.pt holds (weights-only types); an ensemble file holds one per member."""
    state = state_dict if state_dict is not None else model.state_dict()
    return {
        **(blocks or {}),
        "format": MODEL_FORMAT,
        "schema_version": MODEL_SCHEMA_VERSION,
        "backbone": spec.name,
        "class_names": list(class_names),
        "preprocessing": spec.preprocessing.to_dict(),
        "mode": mode,
        "dropout": dropout,
        "state_dict": {k: v.detach().cpu() for k, v in state.items()},
    }


def load_model(path: str | Path) -> LoadedModel:
    """Read model.pt; a ModelFileError says what is wrong with a bad file."""
    path = Path(path)
    if path.is_dir():
        from .run import Run

        path = Run(path).model_path
    if not path.is_file():
        raise ModelFileError(f"Model file not found: {path}", path=str(path))
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelFileError(f"Refused to load {path}: it contains Python objects other than "
                             f"weights, which could run code. ({exc})", path=str(path)) from None
    except Exception as exc:  # torch raises many types for damaged files (KeyError, EOFError, ...)
        raise ModelFileError(f"{path} is not a readable model file ({exc}).", path=str(path)) from None
    if isinstance(data, dict) and data.get("format") == ENSEMBLE_FORMAT:
        from .ensemble.ensemble_file import ensemble_from_record

        return ensemble_from_record(data, path)
    return model_from_record(data, path)


def model_from_record(data: Any, path: Path) -> LoadedModel:
    """The model a record read from `path` describes, after checking every fact."""
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is not a transfer_gui model file.", path=str(path))
    facts = _checked_facts(data, path)
    try:
        spec = get_backbone(facts["backbone"])
        model = make_model(spec, len(facts["class_names"]), pretrained=False,
                           dropout=facts["dropout"])
        load_into(model, facts["state_dict"], what=spec.display_name)
    except WeightsError as exc:  # the names or shapes of the weights do not fit the backbone
        raise ModelFileError(f"{path} is damaged: {exc}", path=str(path)) from None
    except UserError as exc:
        raise ModelFileError(f"{path}: {exc}", path=str(path)) from None
    except (KeyError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"{path} is damaged or incomplete ({exc}).", path=str(path)) from None
    blocks = checked_blocks(data, len(facts["class_names"]), spec.feature_dim, facts["bad"])
    return LoadedModel(model.eval(), spec, facts["class_names"], facts["preprocessing"],
                       facts["mode"], str(path), blocks)


def _checked_facts(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The facts of a model file after checking each one; a ModelFileError names the file and
    the first bad fact (a tampered or damaged file must not crash, nor predict "nan")."""
    def bad(why: str) -> ModelFileError:
        return ModelFileError(f"{path} is damaged or was edited by hand: {why}. Use the model.pt "
                              f"that training wrote, or train again.", path=str(path))

    version = data.get("schema_version", 0)
    if not _is_int(version) or version < 0:
        raise bad(f"schema_version is {version!r}, not a whole number")
    if version > MODEL_SCHEMA_VERSION:
        raise ModelFileError(f"{path} was written by a newer transfer_gui; update to read it.",
                             path=str(path))
    if not isinstance(data.get("backbone"), str):
        raise bad("it names no backbone")
    names = data.get("class_names")
    if (not isinstance(names, list) or len(names) < 2
            or not all(isinstance(n, str) and n for n in names)):
        raise bad("class_names is not a list of at least two names")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise bad(f"the class name(s) {', '.join(map(repr, repeated))} appear more than once")
    dropout = data.get("dropout", 0.2)
    if not _is_number(dropout) or not 0 <= dropout < 1:
        raise bad(f"dropout is {dropout!r}, not a number in [0, 1)")
    mode = data.get("mode", "")
    if not isinstance(mode, str):
        raise bad(f"mode is {mode!r}, not a name")
    state = data.get("state_dict")
    if (not isinstance(state, dict) or not state
            or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())):
        raise bad("it holds no weights")
    damaged = [k for k, v in state.items()
               if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if damaged:
        raise bad(f"{len(damaged)} weight tensor(s) hold NaN or infinite values "
                  f"(first: {damaged[0]})")
    return {"backbone": data["backbone"], "class_names": list(names), "dropout": float(dropout),
            "mode": mode, "state_dict": state, "bad": bad,
            "preprocessing": _checked_preprocessing(data.get("preprocessing"), bad)}


def _checked_preprocessing(raw: Any, bad: Callable[[str], ModelFileError]) -> Preprocessing:
    """The preprocessing recorded in a model file, within sizes any backbone can use."""
    if not isinstance(raw, dict) or not all(k in raw for k in PREPROCESSING_KEYS):
        raise bad(f"its preprocessing does not give {', '.join(PREPROCESSING_KEYS)}")
    low, high = INPUT_SIZE_RANGE
    for key in ("input_size", "resize_size"):
        if not _is_int(raw[key]) or not low <= raw[key] <= high:
            raise bad(f"preprocessing {key} is {raw[key]!r}, not a whole number from {low} "
                      f"to {high}")
    if raw["resize_size"] < raw["input_size"]:
        raise bad("preprocessing resize_size is smaller than input_size")
    for key in ("mean", "std"):
        values = raw[key]
        if (not isinstance(values, (list, tuple)) or len(values) != 3
                or not all(_is_number(v) and math.isfinite(v) for v in values)):
            raise bad(f"preprocessing {key} is not three finite numbers")
    if not all(v > 0 for v in raw["std"]):
        raise bad("preprocessing std has a value that is not above 0")
    return Preprocessing.from_dict(raw)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
