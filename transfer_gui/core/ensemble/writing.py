"""The model.pt a built ensemble run holds (the ensemble, or its best single model) and the
scores of that file as written: what `transfer-gui evaluate` and `predict` will see."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from torch import nn

from ..evaluation import evaluate_predictions
from ..features import DatasetFeatures, FeatureCache
from ..heads import LinearHead
from ..jobs import CancelToken, ProgressCallback
from ..model_features import head_probabilities, model_features
from ..model_file import load_model, save_model
from ..models import BackboneSpec, TransferModel
from ..ood import training_blocks
from ..training.config import FEATURE_EXTRACTION, TrainConfig
from ..training.plans import Split
from .ensemble_file import save_ensemble
from .selection import log_loss


@dataclass
class Candidate:
    """One backbone: its pretrained network, its cached features of every file of the scan,
    and its probe fitted on the training split."""

    spec: BackboneSpec
    network: nn.Module
    features: DatasetFeatures
    head: LinearHead


def save_chosen(path: Path, chosen: Sequence[Candidate], class_names: list[str],
                splits: dict[str, Split], config: TrainConfig, selection: dict) -> None:
    """Write model.pt: an ensemble of `chosen` (2+), or the single feature-extraction model
    (1). Both carry the "unlike the training data" detector (core/ood.py), fitted on the
    members' cached features side by side."""
    models = []
    for c in chosen:
        model = TransferModel(c.network, c.spec.feature_dim, len(class_names), config.dropout)
        c.head.copy_into(model.head[-1])
        models.append((model.eval(), c.spec))

    def side_by_side(split: Split) -> np.ndarray:
        return np.concatenate([c.features.center(split.positions) for c in chosen], axis=1)

    blocks = training_blocks(side_by_side(splits["train"]), np.asarray(splits["train"].labels),
                             side_by_side(splits["val"]), len(class_names), seed=config.seed)
    if len(models) > 1:
        save_ensemble(path, models, class_names, config.dropout, selection=selection,
                      blocks=blocks)
    else:
        save_model(path, models[0][0], models[0][1], class_names, FEATURE_EXTRACTION,
                   config.dropout, blocks=blocks)


def score_saved(path: Path, splits: dict[str, Split], cache: FeatureCache,
                progress: ProgressCallback, cancel: CancelToken) -> dict:
    """evaluation.json of the model.pt at `path` as written (read back as evaluate reads it),
    on the val and test splits; the features of its own backbone are cached."""
    loaded = load_model(path)
    scores = {}
    for name in ("val", "test"):
        split = splits[name]
        if not split:
            continue
        feats = model_features(loaded, split.files, cache=cache, progress=progress,
                               cancel=cancel)
        ok = [i for i in range(len(split.files)) if i not in feats.failures]
        labels = [split.labels[i] for i in ok]
        probabilities = head_probabilities(loaded, feats.center(ok))
        scores[name] = {**evaluate_predictions(labels, probabilities, loaded.class_names,
                                               [split.files[i] for i in ok]),
                        "log_loss": log_loss(labels, probabilities)}
    return {"schema_version": 1, "class_names": loaded.class_names,
            "primary_split": "test" if splits["test"] else "val", "best_epoch": 0,
            "splits": scores}
