"""The Results page's "Cross-validate" panel: an accuracy you can trust, with its spread.

A single validation split of a few hundred images gives an accuracy that may be several points
off. The panel cross-validates feature extraction with the shown run's backbone on all of the
run's labelled images (`crossval_job`, in a worker thread), then lists each fold and the
mean ± standard deviation across folds.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from transfer_gui.core.crossval import DEFAULT_FOLDS, DEFAULT_SEED, CrossValidation
from transfer_gui.core.jobs import Progress
from transfer_gui.core.training.engine import TrainingResult

from transfer_gui.core.jobs.crossval import crossval_job
from transfer_gui.ui.workers import JobHost
from transfer_gui.ui.error_dialog import plain_message

COLUMNS = ("Fold", "Images", "Accuracy", "Balanced accuracy", "Macro-F1")


class CrossValidationPanel(QWidget, JobHost):
    """A button, a folds box, a progress bar, then a fold table and a summary (or an error)."""

    resultShown = Signal()  # the fold table was filled: the page may make room for it

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        # data_dir, backbone, class_weights, leave_out_empty_classes
        self._run: Optional[tuple[str, str, str, bool]] = None
        self._job_run: Optional[tuple[str, str, str]] = None  # what the running job scores
        self.result: Optional[CrossValidation] = None
        self.runner = self.make_runner(progress=self._on_progress, finished=self._on_finished,
                                       failed=self._on_failed, cancelled=self._on_cancelled)

        self.button = QPushButton(self.tr("Cross-&validate"))
        self.button.setToolTip(self.tr(
            "Split all labelled images into parts; test each part with a model trained on the "
            "others (feature extraction with this run's backbone), and report the spread."))
        self.button.clicked.connect(self.start)
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setToolTip(self.tr("Stop the cross-validation."))
        self.stop_button.clicked.connect(self.runner.cancel)
        self.folds = QSpinBox()
        self.folds.setRange(2, 20)
        self.folds.setValue(DEFAULT_FOLDS)
        self.folds.setPrefix(self.tr("Folds: "))
        self.folds.setToolTip(self.tr("Into how many parts the images are split; every class "
                                      "needs at least this many images."))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setToolTip(self.tr("Progress of the cross-validation"))
        self.summary = QLabel(wordWrap=True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet("color: #b00020;")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.setToolTip(self.tr("Each fold's scores on its held-out images. Balanced "
                                      "accuracy averages the accuracy of each class."))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addWidget(self.folds)
        row.addWidget(self.stop_button)
        row.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        layout.addWidget(self.error)
        layout.addWidget(self.table, 1)
        self.clear()

    # ------------------------------------------------------------------ run and reset
    def set_run(self, result: Optional[TrainingResult]) -> None:
        """Follow the shown run; another dataset or backbone drops the scores (and the job)."""
        run = None
        if result is not None:
            c = result.config
            run = (c.data_dir, c.backbone, c.class_weights, c.leave_out_empty_classes)
        if run != self._run:
            self._run = run
            self.runner.cancel()
            self.clear()

    def clear(self) -> None:
        self.result = None
        self.table.setRowCount(0)
        self.table.setMinimumHeight(0)
        self.table.hide()
        self.summary.setText(self.tr("Check how much the accuracy depends on which images were "
                                     "held out for testing."))
        self.error.hide()
        self._set_running(False)

    def start(self) -> None:
        if self._run is None:
            return
        data_dir, backbone, class_weights, leave_out = self._run
        if not Path(data_dir).is_dir():
            self._show_error(self.tr("The dataset folder {0} is gone, so there is nothing to "
                                     "cross-validate.").format(data_dir))
            return
        self.clear()
        self.summary.setText(self.tr("Cross-validating…"))
        self._job_run = self._run
        self.runner.start(crossval_job, data_dir, backbone, self.folds.value(), DEFAULT_SEED,
                          class_weights, leave_out)
        self._set_running(True)

    def shutdown(self) -> bool:
        """Stop the job and wait for its thread (the window is closing); False if it hung."""
        return self.runner.shutdown()

    def _set_running(self, running: bool) -> None:
        self.button.setEnabled(not running and self._run is not None)
        self.folds.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setValue(0)

    # ------------------------------------------------------------------ job signals
    def _on_progress(self, progress: Progress) -> None:
        if progress.fraction is not None:
            self.progress.setValue(int(progress.fraction * 1000))
        self.progress.setFormat(f"%p%  {progress.message}")

    def _stale(self) -> bool:
        """The job ended; True when it was for another run than the one shown now."""
        self._set_running(False)
        return self._job_run != self._run

    def _on_finished(self, cv: CrossValidation) -> None:
        if self._stale():
            return
        self.result = cv
        self.table.setRowCount(len(cv.fold_scores))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r, fold in enumerate(cv.fold_scores):
            cells = (str(fold.fold), str(fold.num_images), f"{fold.accuracy:.1%}",
                     f"{fold.balanced_accuracy:.1%}", f"{fold.macro_f1:.3f}")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(right)
                self.table.setItem(r, c, item)
        shown = min(len(cv.fold_scores), 6)  # room for up to 6 folds, then it scrolls
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height()
                                    + sum(self.table.rowHeight(r) for r in range(shown))
                                    + 2 * self.table.frameWidth())
        self.table.show()
        balanced, balanced_sd = cv.mean_std("balanced_accuracy")
        text = self.tr("<b>Cross-validated feature extraction:</b> {0}; balanced accuracy "
                       "{1:.1%} ± {2:.1%} · {3:.1f} s").format(
            html.escape(cv.summary()), balanced, balanced_sd, cv.seconds)
        if cv.skipped:
            text += self.tr(" · {0} unreadable images left out").format(len(cv.skipped))
        self.summary.setText(text)
        self.resultShown.emit()

    def _on_failed(self, message: str, details: str) -> None:
        if self._stale():
            return
        # The core's advice names the command-line option; here the option is the Folds box.
        self._show_error(message.replace("use --folds", "set Folds to"))

    def _on_cancelled(self, _result: object) -> None:
        if self._stale():
            return
        self.summary.setText(self.tr("Cross-validation stopped."))

    def _show_error(self, message: str) -> None:
        self.summary.setText(self.tr("Cross-validation could not run."))
        self.error.setText(plain_message(message))
        self.error.setToolTip(message)
        self.error.show()
