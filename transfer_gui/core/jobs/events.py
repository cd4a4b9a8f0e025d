"""The intermediate results jobs send through `state.emit(event)`: one frozen dataclass each.

Hosts (the GUI pages) dispatch on the type, so a misspelt event is an import error, not a silent
no-op. Nothing here imports torch or Qt: payload types are named only for the reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class FitStarted:
    """A training run starts its epochs (`train_job`)."""

    epochs: int
    num_batches: int


@dataclass(frozen=True)
class BatchLoss:
    """The mean training loss of the batches since the last report (`train_job`).

    Attributes:
        x: Position in epochs (epoch index + fraction of the epoch done).
        loss: Mean loss of those batches.
        rate: Training images per second over them.
        batches: How many batches the mean covers.
    """

    x: float
    loss: float
    rate: float
    batches: int


@dataclass(frozen=True)
class EpochEnded:
    """An epoch's metrics: "epoch" (0 is the feature-extraction probe of fine-tuning),
    "train_loss", "train_acc", "val_loss", "val_acc", "seconds", ... (`train_job`)."""

    metrics: Mapping[str, Any]

    @property
    def epoch(self) -> int:
        return int(self.metrics["epoch"])


@dataclass(frozen=True)
class TrainingStopped:
    """Stop was honoured during `epoch` (1-based); the best model is scored next (`train_job`)."""

    epoch: int


@dataclass(frozen=True)
class RunTrained:
    """One run of a mode comparison ended, finished or stopped (a TrainingResult)."""

    result: Any


@dataclass(frozen=True)
class PredictedRows:
    """The predictions of one batch, in file order (a list of core.predict.Prediction)."""

    rows: list


@dataclass(frozen=True)
class Explained:
    """One image explained (a core.jobs.explain.PanelExplanation) (`explain_job`)."""

    item: Any


@dataclass(frozen=True)
class ExplainFailed:
    """An image could not be explained, and why in plain words (`explain_job`)."""

    path: str
    reason: str


@dataclass(frozen=True)
class ThumbnailMade:
    """A thumbnail decoded in the worker (a QImage, from the GUI's thumbnail job)."""

    path: str
    image: Any


@dataclass(frozen=True)
class ThumbnailFailed:
    """A thumbnail could not be made, and why in plain words."""

    path: str
    reason: str


@dataclass(frozen=True)
class TrialStarted:
    """A settings-search trial starts, with these settings (TrainConfig fields)."""

    number: int
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class TrialEpoch:
    """An epoch of a settings-search trial ended (`find_settings_job`): its curve row
    ("epoch", "val_acc", "val_loss", "train_loss", ...; fine-tuning's epoch 0 is the probe)."""

    number: int
    row: Mapping[str, Any]


@dataclass(frozen=True)
class TrialEnded:
    """A settings-search trial ended: its table row (a core.auto.TrialRecord)."""

    record: Any
