"""The Predict page's job runner: queues images, predicts them off the GUI thread, shows progress.

One `predict_job` runs at a time on the widget's job runner; files added meanwhile wait and go in the next
job. Rows arrive batch by batch (`rowsReady`), so Stop keeps what was done. The widget itself is
the footer's right-hand side: a status line, a progress bar and a Stop button.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from transfer_gui.core.jobs import Progress
from transfer_gui.core.jobs.events import PredictedRows
from transfer_gui.core.jobs.predict import predict_job

from transfer_gui.ui.error_dialog import plain_message
from transfer_gui.ui.workers import JobHost


class PredictionRunner(QWidget, JobHost):
    """Runs prediction jobs one at a time and shows how they go.

    Attributes:
        batch_size: Images per batch (and per `rowsReady`) of the jobs started from now on.
        runner: The `TaskRunner` the jobs run on.
        status: What the job is doing, or the last message given to `show_status`.
        progress_bar: Images predicted so far (visible while running).
        stop_button: Stops the job (visible while running).
    """

    rowsReady = Signal(object)  # list of the Predictions of one batch, in order
    runningChanged = Signal(bool)

    def __init__(self, model_path: Callable[[], Optional[Path]],
                 parent: Optional[QWidget] = None) -> None:
        """Builds an idle runner.

        Args:
            model_path: Returns the model to predict with when a job starts (None: no job).
            parent: The owning widget.
        """
        super().__init__(parent)
        self._model_path = model_path
        self.batch_size = 16
        self._queue: list[str] = []  # files waiting for the running job to end
        self._inflight: list[str] = []  # files of the running job
        self._job_total = self._job_done = self._job_unreadable = 0
        self._discard = False  # drop late rows of a job stopped by discard()

        self.runner = self.make_runner(
            events={PredictedRows: self._on_rows}, progress=self._on_progress,
            finished=self._on_finished, cancelled=self._on_cancelled, failed=self._on_failed,
            stopped=self._on_stopped)

        self.status = QLabel()
        self.status.setToolTip(self.tr("What the prediction job is doing"))
        self.progress_bar = QProgressBar(textVisible=True)
        self.progress_bar.setToolTip(self.tr("Images predicted so far"))
        self.progress_bar.setMaximumWidth(320)
        self.stop_button = QPushButton(self.tr("&Stop"))
        self.stop_button.setToolTip(self.tr("Stop predicting; the rows so far are kept"))
        self.stop_button.clicked.connect(self.stop)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.stop_button)
        self._set_running(False)

    def pending(self) -> list[str]:
        """Returns the files of the running job, then those waiting for the next one."""
        return [*self._inflight, *self._queue]

    def add(self, files: Sequence[str]) -> None:
        """Queues `files` for prediction, starting a job unless one is running."""
        self._queue.extend(files)
        if not self.runner.is_running():
            self._start_next()

    def stop(self) -> None:
        """Stops predicting (within one batch) and forgets the waiting files."""
        self._queue.clear()
        self.runner.cancel()

    def discard(self) -> None:
        """Stops like `stop`, and drops the rows the stopped job still sends."""
        self.stop()
        self._discard = self.runner.is_running()
        self.progress_bar.reset()

    def is_running(self) -> bool:
        return self.runner.is_running()

    def shutdown(self) -> None:
        """Forgets the waiting files and waits for the running job to end."""
        self._queue.clear()
        self.runner.shutdown()

    def show_status(self, text: str, error: bool = False) -> None:
        """Shows `text` in the status line, in red when `error`."""
        self.status.setText(text)
        self.status.setStyleSheet("color: #b3261e;" if error else "")
        self.status.setToolTip(self.tr("What the prediction job is doing"))

    def _start_next(self) -> None:
        model = self._model_path()
        if not self._queue or model is None:
            return
        files, self._queue = self._queue, []
        self._inflight = files
        self._discard = False
        self._job_total = len(files)
        self._job_done = self._job_unreadable = 0
        self.progress_bar.setRange(0, len(files))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(self.tr("%v of %m"))
        self.show_status(self.tr("Loading the model…"))
        self._set_running(True)
        self.runner.start(predict_job, str(model), files, int(self.batch_size))

    def _set_running(self, running: bool) -> None:
        self.progress_bar.setVisible(running)
        self.stop_button.setVisible(running)
        self.stop_button.setEnabled(running)
        self.runningChanged.emit(running)

    def _on_rows(self, event: PredictedRows) -> None:
        if not self._discard:
            self.rowsReady.emit(event.rows)
            self._job_done += len(event.rows)
            self._job_unreadable += sum(1 for p in event.rows if p.error)
            self.progress_bar.setValue(self._job_done)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        if progress.stage == "load":
            self.show_status(self.tr("Loading the model…"))
        else:
            self.show_status(self.tr("Predicting…"))

    @Slot(object)
    def _on_finished(self, count) -> None:
        bad = self._job_unreadable
        if bad:
            self.show_status(self.tr("Predicted {0} of {1} images, {2} unreadable").format(
                count - bad, count, bad))
        else:
            self.show_status(self.tr("Predicted {0} images").format(count))

    @Slot(object)
    def _on_cancelled(self, _result) -> None:
        text = self.tr("Stopped after {0} of {1} images").format(self._job_done, self._job_total)
        if self._job_unreadable:
            text += self.tr(", {0} unreadable").format(self._job_unreadable)
        self.show_status(text)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._queue.clear()
        self.show_status(plain_message(message), error=True)
        self.status.setToolTip("\n\n".join(p for p in (message, details) if p))

    @Slot()
    def _on_stopped(self) -> None:
        self._inflight = []
        if self._queue:
            self._start_next()
        else:
            self._set_running(False)
