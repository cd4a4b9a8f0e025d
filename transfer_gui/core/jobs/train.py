"""The Train page's job: one training run, and the callback that feeds the page's plots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from transfer_gui.core.data import DatasetScan
from transfer_gui.core.jobs.events import BatchLoss, EpochEnded, FitStarted, TrainingStopped
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import TrainingResult, train_run
from transfer_gui.core.training.loop import Callback


class JobFeed(Callback):
    """Sends training events through the job state (in the GUI: Qt signals, queued).

    Batch losses are averaged and sent at most every `interval` seconds, so fast epochs (feature
    extraction runs hundreds of batches a second) do not flood the event loop.
    """

    order = 45

    def __init__(self, state, interval: float = 0.05) -> None:
        self.state, self.interval = state, interval
        self._losses: list[float] = []
        self._samples = 0
        self._window_start = 0.0
        self._last_sent = 0.0

    def before_fit(self, trainer) -> None:
        self.state.emit(FitStarted(trainer.epochs, trainer.num_batches))
        self._window_start = self._last_sent = time.perf_counter()

    def after_batch(self, trainer) -> None:
        self._losses.append(trainer.batch_loss)
        self._samples += trainer.batch_samples
        now = time.perf_counter()
        last_of_epoch = trainer.batch_index + 1 == trainer.num_batches
        if now - self._last_sent >= self.interval or last_of_epoch:
            x = trainer.epoch + (trainer.batch_index + 1) / trainer.num_batches
            rate = self._samples / max(now - self._window_start, 1e-9)
            self.state.emit(BatchLoss(x, sum(self._losses) / len(self._losses), rate,
                                      len(self._losses)))
            self._losses, self._samples = [], 0
            self._window_start = self._last_sent = now

    def before_validate(self, trainer) -> None:
        self._window_start = time.perf_counter()  # validation time is not training throughput

    def after_validate(self, trainer) -> None:
        self._window_start = time.perf_counter()

    def after_epoch(self, trainer) -> None:
        self.state.emit(EpochEnded({"epoch": trainer.epoch + 1, **trainer.metrics}))

    def after_cancel(self, trainer) -> None:
        self.state.emit(TrainingStopped(trainer.epoch + 1))


def train_job(state, config: TrainConfig, run_dir: Path, evaluate_after_stop,
              dataset: Optional[DatasetScan] = None,
              config_notes: Optional[dict] = None) -> TrainingResult:
    """One training run, reporting through `state`; `dataset` is the scan the Data page made
    (used when its settings match the config's, so the folder is not scanned twice);
    `config_notes` go into config.json beside the settings (the search that chose them)."""
    return train_run(config, run_dir, callbacks=[JobFeed(state)], progress=state.progress,
                     cancel=state.cancel, evaluate_after_cancel=evaluate_after_stop,
                     dataset=dataset, config_notes=config_notes)
