"""One trial of the settings search: a real, short training run on the search's split.

The trial trains through the engine (`train_run`, so exactly what a run with those settings
does), into a run folder inside a temporary folder that is deleted when the trial ends: the
only files written are a run's, through RunWriter, and none stay. It skips the final evaluation
(`evaluate=False`): a trial is scored on its validation curve. After each epoch its validation
accuracy goes to the Optuna trial, whose pruner may stop it there; the search's deadline and
the user's Stop end it within one batch.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..data import DatasetScan
from ..errors import Cancelled
from ..features import FeatureCache
from ..jobs import CancelToken
from ..training.config import TrainConfig
from ..training.engine import train_run
from ..training.loop import Callback

# A trial's state, as the table shows it.
COMPLETE, PRUNED, OUT_OF_TIME, STOPPED, FAILED = (
    "complete", "pruned", "out of time", "stopped", "failed")


@dataclass
class TrialRecord:
    """One row of the search table.

    Attributes:
        number: The trial's number in the study (0 first; a resumed study goes on counting).
        settings: The searched options' values (TrainConfig fields; unfreeze_stages None: all).
        state: COMPLETE, PRUNED (a worse curve than the median trial's), OUT_OF_TIME (the
            budget ran out during it), STOPPED (by the user) or FAILED (with `note`).
        val_acc, val_loss, best_epoch: Its best trained epoch (highest validation accuracy,
            then lowest loss); fine-tuning's epoch 0, the probe, is not one. None: no epoch.
        seconds: How long it ran.
        curve: Per epoch (fine-tuning: 0, the probe, first): epoch, train_loss, train_acc,
            val_loss, val_acc, seconds.
        note: Why it failed, or why it ended before its last epoch.
        probe_l2: Fine-tuning: the L2 strength of the probe it started from.
        resumed: It ran in an earlier search of the same study (SQLite storage).
    """

    number: int
    settings: dict[str, Any]
    state: str
    val_acc: Optional[float] = None
    val_loss: Optional[float] = None
    best_epoch: Optional[int] = None
    seconds: float = 0.0
    curve: list[dict[str, float]] = field(default_factory=list)
    note: str = ""
    probe_l2: Optional[float] = None
    resumed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def epoch_seconds(self) -> list[float]:
        return [row["seconds"] for row in self.curve if row["epoch"] > 0]


class DeadlineToken(CancelToken):
    """A trial's cancel token: set when `outer` (the user's Stop) is, or once `deadline` (a
    `clock()` time) has passed, so a trial never runs past the search's budget."""

    def __init__(self, outer: CancelToken, deadline: float,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__()
        self.outer, self.deadline, self.clock = outer, deadline, clock

    @property
    def out_of_time(self) -> bool:
        return self.clock() >= self.deadline

    @property
    def cancelled(self) -> bool:
        return super().cancelled or self.outer.cancelled or self.out_of_time

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled()


class TrialFeed(Callback):
    """Keeps a trial's curve, reports each trained epoch's validation accuracy to the Optuna
    trial and stops the run when its pruner says so; `on_epoch(number, row)` streams the curve."""

    order = 50  # after the checkpoint and early stopping have seen the epoch

    def __init__(self, trial, on_epoch: Optional[Callable[[int, dict], None]] = None) -> None:
        self.trial, self.on_epoch = trial, on_epoch
        self.curve: list[dict[str, float]] = []
        self.pruned = False

    def after_epoch(self, trainer) -> None:
        m = trainer.metrics
        row = {"epoch": trainer.epoch + 1, **{k: float(m[k]) for k in (
            "train_loss", "train_acc", "val_loss", "val_acc", "seconds") if k in m}}
        self.curve.append(row)
        if self.on_epoch is not None:
            self.on_epoch(self.trial.number, row)
        if row["epoch"] == 0:  # fine-tuning's starting point: the same probe in every trial
            return
        self.trial.report(row["val_acc"], step=row["epoch"])
        if self.trial.should_prune():
            self.pruned = True
            trainer.request_stop(f"pruned after epoch {row['epoch']}: worse than the median "
                                 f"trial")


def best_epoch(curve: list[dict[str, float]]) -> Optional[dict[str, float]]:
    """The trained epoch with the highest validation accuracy, then the lowest loss."""
    trained = [row for row in curve if row["epoch"] > 0]
    return max(trained, key=lambda r: (r["val_acc"], -r["val_loss"])) if trained else None


def run_trial(trial, config: TrainConfig, scan: DatasetScan, settings: dict[str, Any], *,
              cache: FeatureCache, token: DeadlineToken, allow_download: bool = True,
              on_epoch: Optional[Callable[[int, dict], None]] = None) -> TrialRecord:
    """Trains `config` (the search's settings already applied) as Optuna `trial`; the record
    says how it ended. A UserError (e.g. weights missing) is raised, not recorded."""
    feed = TrialFeed(trial, on_epoch)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="transfer-gui-trial-") as folder:
        result = train_run(config, Path(folder) / "trial", callbacks=[feed], cancel=token,
                           feature_cache=cache, allow_download=allow_download, dataset=scan,
                           evaluate=False)
    record = TrialRecord(trial.number, settings, COMPLETE, seconds=time.perf_counter() - started,
                         curve=feed.curve)
    best = best_epoch(feed.curve)
    if best is not None:
        record.val_acc, record.val_loss = best["val_acc"], best["val_loss"]
        record.best_epoch = int(best["epoch"])
    if result.cancelled:
        record.state = STOPPED if token.outer.cancelled else OUT_OF_TIME
    elif feed.pruned:
        record.state, record.note = PRUNED, result.stop_reason or ""
    elif best is None:
        record.state = FAILED
        record.note = result.stop_reason or result.note or "no epoch was trained"
    else:
        record.note = result.stop_reason or ""  # early stopping, or a loss that diverged
    record.probe_l2 = (result.probe or {}).get("l2")
    return record
