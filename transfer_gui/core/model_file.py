"""`model.pt`: a trained classifier as a weights-only file (state dict + the facts to rebuild it).

Everything in it is a tensor, string, number, list or dict, so `torch.load(weights_only=True)`
reads it and nothing is ever unpickled.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import torch

from .atomic import atomic_torch_save
from .errors import ModelFileError, UserError
from .models import BackboneSpec, Preprocessing, TransferModel, get_backbone, make_model

MODEL_FORMAT = "transfer_gui.model"
MODEL_SCHEMA_VERSION = 1


@dataclass
class LoadedModel:
    """A model read back from model.pt, in eval mode on the CPU."""

    model: TransferModel
    spec: BackboneSpec
    class_names: list[str]
    preprocessing: Preprocessing
    mode: str
    path: str


def save_model(path: str | Path, model: TransferModel, spec: BackboneSpec, class_names: list[str],
               mode: str, dropout: float, state_dict: dict[str, torch.Tensor] | None = None) -> Path:
    state = state_dict if state_dict is not None else model.state_dict()
    return atomic_torch_save(path, {
        "format": MODEL_FORMAT,
        "schema_version": MODEL_SCHEMA_VERSION,
        "backbone": spec.name,
        "class_names": list(class_names),
        "preprocessing": spec.preprocessing.to_dict(),
        "mode": mode,
        "dropout": dropout,
        "state_dict": {k: v.detach().cpu() for k, v in state.items()},
    })


def load_model(path: str | Path) -> LoadedModel:
    """Read model.pt; a ModelFileError says what is wrong with a bad file."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise ModelFileError(f"Model file not found: {path}", path=str(path))
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelFileError(f"Refused to load {path}: it contains Python objects other than "
                             f"weights, which could run code. ({exc})", path=str(path)) from None
    except Exception as exc:  # torch raises many types for damaged files (KeyError, EOFError, ...)
        raise ModelFileError(f"{path} is not a readable model file ({exc}).", path=str(path)) from None
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is not a transfer_gui model file.", path=str(path))
    if data.get("schema_version", 0) > MODEL_SCHEMA_VERSION:
        raise ModelFileError(f"{path} was written by a newer transfer_gui; update to read it.",
                             path=str(path))
    try:
        spec = get_backbone(data["backbone"])
        class_names = [str(c) for c in data["class_names"]]
        model = make_model(spec, len(class_names), pretrained=False, dropout=data.get("dropout", 0.2))
        model.load_state_dict(data["state_dict"], strict=True)
    except UserError as exc:
        raise ModelFileError(f"{path}: {exc}", path=str(path)) from None
    except (KeyError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"{path} is damaged or incomplete ({exc}).", path=str(path)) from None
    return LoadedModel(model.eval(), spec, class_names,
                       Preprocessing.from_dict(data["preprocessing"]), data.get("mode", ""), str(path))
