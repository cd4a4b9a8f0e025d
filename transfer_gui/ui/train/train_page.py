"""Step 4: train, with live curves, progress, ETA, throughput, a Stop button and a log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from transfer_gui.core.cli_progress import format_duration
from transfer_gui.core.jobs import Progress
from transfer_gui.core.models import get_backbone
from transfer_gui.core.training.engine import TrainingResult
from transfer_gui.core.training.setup import device_description, pick_device

from transfer_gui.ui.plots import TrainingPlots
from transfer_gui.ui.folders import open_folder as show_folder
from transfer_gui.ui.state import AppState
from transfer_gui.core.jobs.events import BatchLoss, EpochEnded, FitStarted, TrainingStopped
from transfer_gui.core.jobs.train import train_job
from transfer_gui.ui.names import mode_name
from transfer_gui.ui.workers import JobHost
from .job_button import JobButton
from transfer_gui.ui.wizard_page import WizardPage, heading

def images_per_second(rate: float) -> str:
    """12, 1,250, or 0.2 on a slow machine (never a bare "0")."""
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.1f}"


class TrainPage(WizardPage, JobHost):
    trainingFinished = Signal(object)  # TrainingResult, also after Stop

    def __init__(self, state: AppState, runs_root: Optional[Path] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(state, parent)
        self.runs_root = runs_root or AppState.default_runs_root()
        self.run_dir: Optional[Path] = None
        self._closing = False
        self._stop_clicked_at: Optional[float] = None
        self.stop_latency: Optional[float] = None  # seconds from Stop to the loop's end
        self.runner = self.make_runner(progress=self._on_progress, event=self._on_event,
                                       finished=self._on_done, cancelled=self._on_done,
                                       failed=self._on_failed)

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Train")))
        top = QHBoxLayout()
        self.summary = QLabel()
        font = QFont(self.summary.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.summary.setFont(font)
        self.summary.setWordWrap(True)
        top.addWidget(self.summary, 1)
        self.start_button = QPushButton(self.tr("&Start training"))
        self.start_button.setToolTip(self.tr("Train with the chosen data, model and settings."))
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton(self.tr("S&top"))
        self.stop_button.setToolTip(self.tr("Stop now; the best model so far is kept."))
        self.stop_button.clicked.connect(self.stop)
        top.addWidget(self.start_button)
        top.addWidget(self.stop_button)
        self.job_button = JobButton(state, self)
        top.addWidget(self.job_button)
        layout.addLayout(top)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setToolTip(self.tr("Progress of the whole run"))
        layout.addWidget(self.progress)
        facts = QGridLayout()
        self.labels: dict[str, QLabel] = {}
        for i, (key, title) in enumerate((("epoch", self.tr("Epoch")), ("eta", self.tr("Time left")),
                                          ("rate", self.tr("Images/s")), ("device", self.tr("Device")),
                                          ("best", self.tr("Best validation accuracy")))):
            name = QLabel(title + ":")
            value = QLabel("–")
            value.setToolTip(title)
            facts.addWidget(name, 0, 2 * i)
            facts.addWidget(value, 0, 2 * i + 1)
            self.labels[key] = value
        facts.setColumnStretch(9, 1)
        layout.addLayout(facts)

        self.plots = TrainingPlots()
        layout.addWidget(self.plots, 3)
        log_box = QGroupBox(self.tr("Log"))
        log_layout = QVBoxLayout(log_box)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setToolTip(self.tr("What happened during training"))
        log_layout.addWidget(self.log)
        folder_row = QHBoxLayout()
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        self.open_folder = QPushButton(self.tr("&Open run folder"))
        self.open_folder.setToolTip(self.tr("Show the files this run wrote (model, metrics, "
                                            "evaluation)."))
        self.open_folder.clicked.connect(lambda: self.run_dir and show_folder(self, self.run_dir))
        folder_row.addWidget(self.folder_label, 1)
        folder_row.addWidget(self.open_folder)
        log_layout.addLayout(folder_row)
        layout.addWidget(log_box, 1)

        self._epochs = 0
        self._stage, self._stage_started = "", 0.0
        self._stopping = False
        state.choicesChanged.connect(self._update_summary)
        state.datasetChanged.connect(self._update_summary)
        state.resultChanged.connect(self._follow_selected_run)
        self._update_summary()
        self._set_running(False)

    def title(self) -> str:
        return self.tr("Train")

    def blocker(self) -> str:
        if self.runner.is_running():
            return self.tr("Training is running.")
        if self.state.result is None:
            return self.tr("Train a model first.")
        return ""

    def _update_summary(self) -> None:
        spec = get_backbone(self.state.backbone)
        try:
            config = self.state.config()
            epochs = self.tr("up to {n} epochs").format(n=config.epochs)
        except Exception:
            epochs = ""
        mode = mode_name(self.state.mode).lower()
        self.summary.setText(" · ".join(p for p in (spec.display_name, mode, epochs) if p))
        self.labels["device"].setText(device_description(pick_device(
            self.state.settings.get("device", "auto"))))

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and self.state.dataset is not None)
        self.stop_button.setEnabled(running)
        # A run is written beside its folder and moved there when it ends (core/run_writer.py).
        self.open_folder.setEnabled(not running and self.run_dir is not None
                                    and Path(self.run_dir).is_dir())
        self.state.set_training(running)
        self.completeChanged.emit()

    def on_enter(self) -> None:
        self._update_summary()
        self._set_running(self.runner.is_running())

    def append_log(self, text: str) -> None:
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")

    def reset_view(self, epochs: int) -> None:
        """Forget everything the previous run showed: progress, facts, curves, log."""
        self.plots.clear(epochs)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        for key in ("epoch", "eta", "rate", "best"):
            self.labels[key].setText("–")
        self.log.clear()
        self._stage, self._stage_started = "", 0.0
        self._epochs = epochs

    def start(self) -> None:
        try:
            config = self.state.config()
        except Exception as exc:
            from transfer_gui.ui.error_dialog import show_exception

            show_exception(self, self.tr("Settings"), exc, object_name="settingsError",
                           informative=self.tr("Change it on the Settings step, then start again."))
            return
        self.run_dir = self.runs_root / self.state.run_folder_name()
        self.reset_view(config.epochs)
        self._stop_clicked_at, self.stop_latency = None, None
        self._stopping = False
        self.folder_label.setText(self.tr("Run folder: {path}").format(path=self.run_dir))
        self.append_log(self.tr("Started: {summary}").format(summary=self.summary.text()))
        self.state.set_result(None)
        self.runner.start(train_job, config, self.run_dir, lambda: not self._closing,
                          self.state.dataset, self.state.config_notes())
        self._set_running(True)

    def stop(self) -> None:
        if self.runner.is_running():
            self._stop_clicked_at = time.perf_counter()
            self._stopping = True
            self.stop_button.setEnabled(False)
            self.progress.setFormat(self.tr("%p%  Stopping…"))
            self.labels["eta"].setText("–")
            self.append_log(self.tr("Stopping…"))
            self.runner.cancel()

    def _on_progress(self, progress: Progress) -> None:
        if self._stopping:  # scoring the kept model: the run's own progress ended at Stop
            self.progress.setFormat(self.tr("%p%  Stopping: {what}").format(
                what=progress.message))
            return
        if progress.stage != self._stage:
            self._stage, self._stage_started = progress.stage, time.perf_counter()
        elapsed = time.perf_counter() - self._stage_started
        if progress.stage in ("features", "decode") and progress.done and elapsed > 0.5:
            self.labels["rate"].setText(images_per_second(progress.done / elapsed))
        if progress.fraction is not None:
            self.progress.setValue(int(progress.fraction * 1000))
        self.progress.setFormat(f"%p%  {progress.message}")
        self.labels["eta"].setText(self.time_left_text(progress))

    def time_left_text(self, progress: Progress) -> str:
        """The "Time left" figure. Training reports the whole run's time left, estimated from
        its timed steps (core/training/time_estimate.py). Before training starts only feature
        extraction's figure means something (its feature pass is most of the run); fine-tuning's
        and from scratch's epochs are not timed yet, so they say so instead of a few seconds."""
        before_training = progress.stage not in ("train", "evaluate")
        if progress.eta_seconds is None or (before_training
                                            and self.state.mode != "feature_extraction"):
            return self.tr("estimating…")
        return format_duration(progress.eta_seconds)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, BatchLoss):
            self.plots.add_batch(event.x, event.loss, event.batches)
            if self.state.mode != "feature_extraction":  # there, images/s is the feature pass's
                self.labels["rate"].setText(images_per_second(event.rate))
        elif isinstance(event, EpochEnded):
            payload = event.metrics
            self.plots.add_epoch(payload)
            self.labels["epoch"].setText(f"{payload['epoch']}/{self._epochs}")
            best = max(self.plots.series["val_acc"].view()[1], default=0.0)
            self.labels["best"].setText(f"{best:.1%}")
            start = (self.tr(" (feature extraction, before fine-tuning)")
                     if payload["epoch"] == 0 else "")
            self.append_log(self.tr(
                "Epoch {e}{start}: train loss {tl:.3f}, accuracy {ta:.1%}; validation loss "
                "{vl:.3f}, accuracy {va:.1%} ({s:.1f} s)").format(
                    e=payload["epoch"], start=start, tl=payload["train_loss"],
                    ta=payload["train_acc"], vl=payload["val_loss"], va=payload["val_acc"],
                    s=payload.get("seconds", 0.0)))
        elif isinstance(event, TrainingStopped):
            if self._stop_clicked_at is not None:
                self.stop_latency = time.perf_counter() - self._stop_clicked_at
            self.append_log(self.tr("Stopped during epoch {e}; scoring the best model.").format(
                e=event.epoch))
        elif isinstance(event, FitStarted):
            self._epochs = event.epochs
            self.plots.set_epochs(self._epochs)

    def outcome_text(self, result: Optional[TrainingResult]) -> str:
        """How a run ended, in one line: the progress bar's last words and the status bar's."""
        if result is None or result.best is None:
            return (self.tr("Stopped — no epoch finished, so no model was saved")
                    if result is None or result.cancelled else
                    self.tr("Finished — no epoch finished, so no model was saved"))
        epoch = result.best["epoch"]
        which = (self.tr("the best model (epoch {e}, feature extraction)").format(e=epoch)
                 if epoch == 0 and result.config.mode != "feature_extraction"
                 else self.tr("the best model (epoch {e})").format(e=epoch))
        if result.cancelled:
            return self.tr("Stopped — {which} is kept").format(which=which)
        return self.tr("Finished — {which} is kept").format(which=which)

    def _on_done(self, result: Optional[TrainingResult]) -> None:
        self._set_running(False)
        self.plots.flush()
        stopped = self._stopping or result is None or result.cancelled
        self._stopping = False
        self.labels["eta"].setText("–")
        if not stopped:
            self.progress.setValue(self.progress.maximum())
            last = int(max(self.plots.series["val_acc"].view()[0], default=0))
            if 0 < last < self._epochs:  # ended early (converged, early stopping): fit the curves
                self.plots.set_epochs(last)
        self.progress.setFormat(("" if stopped else "%p%  ") + self.outcome_text(result))
        if result is None:
            self.append_log(self.tr("Stopped before training began; nothing was saved."))
            return
        if result.stop_reason:
            self.append_log(self.tr("Stopped: {why}").format(why=result.stop_reason))
        if result.best:
            self.append_log(self.tr("Best epoch {e}: validation accuracy {a:.1%}. Saved in {p}.")
                            .format(e=result.best["epoch"], a=result.best["val_acc"],
                                    p=result.run_dir))
            self.state.set_result(result)
        else:
            self.append_log(self.tr("No epoch finished, so no model was saved."))
        self.completeChanged.emit()
        self.trainingFinished.emit(result)

    def _on_failed(self, message: str, details: str) -> None:
        self._set_running(False)
        self._stopping = False
        self.labels["eta"].setText("–")
        self.progress.setFormat(self.tr("Failed — see the message"))
        self.append_log(self.tr("Failed: {msg}").format(msg=message))
        from transfer_gui.ui.error_dialog import show_error

        show_error(self, self.tr("Training failed"), message, details, informative=self.tr(
            "Nothing else is affected; fix the problem and start again."),
            object_name="trainingFailedDialog")

    def show_history(self, result: TrainingResult) -> None:
        """Show a finished run's curves (a reopened project), without training."""
        last = max((h["epoch"] for h in result.history), default=0)
        self.reset_view(max(result.config.epochs, last))
        for metrics in result.history:
            self.plots.add_epoch(metrics)
        self.plots.flush()
        self.run_dir = result.run_dir
        self._epochs = result.config.epochs
        if result.history:  # a fine-tuning run starts at epoch 0, the feature-extraction probe
            self.labels["epoch"].setText(f"{result.history[-1]['epoch']}/{result.config.epochs}")
        if result.best:
            self.labels["best"].setText(f"{result.best['val_acc']:.1%}")
        if not result.cancelled:
            self.progress.setValue(self.progress.maximum())
        self.progress.setFormat(("" if result.cancelled else "%p%  ") + self.outcome_text(result))
        self.folder_label.setText(self.tr("Run folder: {path}").format(path=result.run_dir))
        self.append_log(self.tr("Opened run {path}").format(path=result.run_dir))
        self._set_running(False)

    def _follow_selected_run(self) -> None:
        """Show the curves of the run selected elsewhere (a reopened project, the Results page's
        run picker, a Compare modes run); a run this page just trained keeps its live curves."""
        result = self.state.result
        shown = Path(self.run_dir).resolve() if self.run_dir is not None else None
        if result is not None and not self.runner.is_running() \
                and Path(result.run_dir).resolve() != shown:
            self.show_history(result)
        self.completeChanged.emit()

    def shutdown(self) -> None:
        """Window closing: stop without scoring, and wait for the thread to end."""
        self._closing = True
        self.runner.shutdown()
        self.job_button.shutdown()

    @property
    def closing(self) -> bool:
        """True after `shutdown` (the window is closing): a run stopped now is not scored."""
        return self._closing

    def cancel_close(self) -> None:
        """The window stays open after all (the unsaved-runs question was cancelled): a later
        run, or Stop, scores its model again."""
        self._closing = False
