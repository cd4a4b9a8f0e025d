"""Step 6, Predict: classify new images with the trained model.

Images (files, folders, or dropped on the page) are predicted in a background job that loads the
model itself and streams its results batch by batch (`PredictionRunner`, `predict_job`), so big
folders fill the table (`PredictionTable`, thumbnails loaded off the GUI thread) as they go and
Stop keeps what was done. A confidence threshold flags uncertain rows at once, without predicting
again; the table exports to the same CSV columns as `transfer-gui predict --csv`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QPushButton, QStackedWidget,
                               QVBoxLayout, QWidget)

from transfer_gui.core.data import IMAGE_EXTENSIONS
from transfer_gui.core.errors import UserError
from transfer_gui.core.jobs.predict import TOP_K, predict_job
from transfer_gui.core.predict import Prediction, collect_images

from .predict_rows import CSV_COLUMNS, csv_row, write_predictions_csv
from transfer_gui.ui.model_in_use import ModelInUse
from .predict_runner import PredictionRunner
from .shift_dialog import ShiftButton
from .predict_table import (COL_CONFIDENCE, COL_FILE, COL_FLAG, COL_PREDICTED, COL_THUMB, COL_TOP,
                            ERROR_BG, THUMB, UNCERTAIN_BG, PredictionTable, ThresholdBox)
from transfer_gui.ui.state import AppState
from transfer_gui.ui.wizard_page import WizardPage, heading
from transfer_gui.ui.error_dialog import user_error_message

# The page, and the names this module defined before the job and the table moved out.
__all__ = ["PredictPage", "COL_THUMB", "COL_FILE", "COL_PREDICTED", "COL_CONFIDENCE", "COL_TOP",
           "COL_FLAG", "CSV_COLUMNS", "ERROR_BG", "THUMB", "TOP_K", "UNCERTAIN_BG", "csv_row",
           "predict_job"]


class PredictPage(WizardPage):
    """Predicts the classes of images the user adds, with the model of state.result."""

    openInCam = Signal(str)  # path of a double-clicked image

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(state, parent)
        self.setAcceptDrops(True)
        self.jobs = PredictionRunner(self.model_path)
        self.jobs.rowsReady.connect(self._on_rows)
        self.jobs.runningChanged.connect(self._update_view)
        self.runner = self.jobs.runner
        self.status = self.jobs.status
        self.progress_bar = self.jobs.progress_bar
        self.stop_button = self.jobs.stop_button

        help_label = QLabel(self.tr(
            "Add images or folders (or drop them here) to see what the trained model predicts. "
            "Rows below the confidence threshold, and images not like any training class, are "
            "flagged for a closer look; double-click a row to see where the model looked."),
            wordWrap=True)
        help_label.setStyleSheet("color: palette(dark);")

        self.add_files_button = QPushButton(self.tr("Add &images…"))
        self.add_files_button.setToolTip(self.tr("Choose one or more image files to predict"))
        self.add_files_button.clicked.connect(self._choose_files)
        self.add_folder_button = QPushButton(self.tr("Add f&older…"))
        self.add_folder_button.setToolTip(
            self.tr("Choose a folder: every image in it and its subfolders is predicted"))
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.clear_button = QPushButton(self.tr("C&lear"))
        self.clear_button.setToolTip(self.tr("Remove every row from the table"))
        self.clear_button.clicked.connect(self.clear)
        self.export_button = QPushButton(self.tr("E&xport CSV…"))
        self.export_button.setToolTip(self.tr(
            "Save the table as CSV: the command line's --csv columns (file, predicted, "
            "probability, top1..top3, error, unlike_score, unlike_training) and “uncertain” "
            "(yes below the threshold)"))
        self.export_button.clicked.connect(self._choose_export)

        threshold_label = QLabel(self.tr("Flag belo&w"))
        self.threshold = ThresholdBox(0.7)
        self.threshold.setToolTip(self.tr(
            "Confidence threshold: rows whose top class has a lower confidence are flagged as "
            "uncertain"))
        threshold_label.setToolTip(self.threshold.toolTip())
        threshold_label.setBuddy(self.threshold)
        self.threshold.valueChanged.connect(self._reflag)

        tools = QHBoxLayout()
        tools.addWidget(self.add_files_button)
        tools.addWidget(self.add_folder_button)
        tools.addWidget(self.clear_button)
        self.shift_button = ShiftButton(self.state, self.model_path)  # dataset shift
        tools.addWidget(self.shift_button)
        tools.addStretch(1)
        tools.addWidget(threshold_label)
        tools.addWidget(self.threshold)
        tools.addSpacing(12)
        tools.addWidget(self.export_button)

        self.table = PredictionTable(self.threshold_value())
        self.table.imageActivated.connect(self.openInCam)

        self.drop_hint = QLabel(self.tr("Drop images or folders here, or use “Add images…” "
                                        "and “Add folder…” above."),
                                alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.drop_hint.setStyleSheet("font-size: 13pt; color: palette(dark); "
                                     "border: 2px dashed palette(mid); border-radius: 10px;")
        self.drop_hint.setToolTip(self.tr("Drag image files or folders onto the page"))

        self.no_model = QLabel(self.tr("Train a model first"),
                               alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.no_model.setStyleSheet("font-size: 15pt; color: palette(dark);")
        self.no_model.setToolTip(self.tr("Predictions need the model of a finished training run"))

        self.stack = QStackedWidget()
        self.stack.addWidget(self.no_model)
        self.stack.addWidget(self.drop_hint)
        self.stack.addWidget(self.table)

        self.summary = QLabel()
        self.summary.setToolTip(self.tr("How many rows fall below the confidence threshold"))

        footer = QHBoxLayout()
        footer.addWidget(self.summary)
        footer.addStretch(1)
        footer.addWidget(self.jobs)

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Predict")))
        self.model_in_use = ModelInUse(self.state)
        layout.addWidget(self.model_in_use)
        layout.addWidget(help_label)
        layout.addLayout(tools)
        layout.addWidget(self.stack, 1)
        layout.addLayout(footer)

        self.state.resultChanged.connect(self._on_result_changed)
        self._update_view()

    # ------------------------------------------------------------------ WizardPage
    def title(self) -> str:
        return self.tr("Predict")

    def blocker(self) -> str:
        return ""

    def on_enter(self) -> None:
        self._update_view()

    def shutdown(self) -> None:
        self.jobs.shutdown()
        self.table.shutdown()
        self.shift_button.shutdown()

    # ------------------------------------------------------------------ public API
    @property
    def predictions(self) -> list[Prediction]:
        """The prediction of each table row, in row order."""
        return self.table.predictions

    @property
    def batch_size(self) -> int:
        """Images per batch of the prediction jobs started from now on."""
        return self.jobs.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self.jobs.batch_size = value

    def model_path(self) -> Optional[Path]:
        """Returns the model.pt of the current result, or None without one."""
        result = self.state.result
        if result is None:
            return None
        return result.model_path

    def add_paths(self, paths: Sequence[str]) -> int:
        """Predicts the images in `paths`, appending rows to the table.

        Args:
            paths: Image files and folders (searched recursively).

        Returns:
            How many new images were queued (files already in the table are skipped).
        """
        if self.model_path() is None:
            self.jobs.show_status(self.tr("Train a model first"), error=True)
            return 0
        try:
            files = collect_images([str(p) for p in paths])
        except UserError as exc:
            self.jobs.show_status(str(exc), error=True)
            return 0
        seen = set(self.table.paths()) | set(self.jobs.pending())
        new = []
        for f in files:
            if f not in seen:
                seen.add(f)
                new.append(f)
        if not new:
            self.jobs.show_status(self.tr("No new images found"), error=not files)
            return 0
        self.table.request_thumbnails([*self.jobs.pending(), *new])
        self.jobs.add(new)
        return len(new)

    def stop(self) -> None:
        """Stops predicting (within one batch); rows so far stay."""
        self.jobs.stop()

    def clear(self) -> None:
        """Stops predicting and removes every row."""
        self.jobs.discard()
        self.table.clear_predictions()
        self._update_view()

    def is_running(self) -> bool:
        return self.jobs.is_running()

    def threshold_value(self) -> float:
        return float(self.threshold.value())

    def set_threshold(self, value: float) -> None:
        self.threshold.setValue(value)

    def flag_of(self, row: int) -> str:
        """Returns "error", "uncertain" or "" for table row `row`."""
        return self.table.flag_of(row)

    def uncertain_count(self) -> int:
        return self.table.uncertain_count()

    def has_thumbnail(self, row: int) -> bool:
        return self.table.has_thumbnail(row)

    def export_csv(self, path: str | os.PathLike) -> Path:
        """Writes the table (CLI --csv columns) atomically; returns the path written."""
        return write_predictions_csv(path, self.predictions, self.threshold_value())

    # ------------------------------------------------------------------ dialogs
    def _choose_files(self) -> None:
        pattern = " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(
            self, self.tr("Add images"), "", self.tr("Images ({0})").replace("{0}", pattern))
        if files:
            self.add_paths(files)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Add folder"))
        if folder:
            self.add_paths([folder])

    def _choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export predictions"),
                                              "predictions.csv", self.tr("CSV files (*.csv)"))
        if path:
            try:
                self.export_csv(path)
            except OSError as exc:
                self.jobs.show_status(self.tr("Could not save: ") + user_error_message(exc), error=True)
            else:
                self.jobs.show_status(self.tr("Saved ") + path)

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self.model_path() is not None and event.mimeData().hasUrls() and any(
                url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # ------------------------------------------------------------------ rows
    @Slot(object)
    def _on_rows(self, predictions: list[Prediction]) -> None:
        self.table.append_predictions(predictions)
        self._update_summary()
        self._update_view()

    @Slot()
    def _on_result_changed(self) -> None:
        self.clear()  # predictions of another model would mislead
        self.status.clear()

    # ------------------------------------------------------------------ summary and view
    @Slot()
    def _reflag(self) -> None:
        self.table.set_threshold(self.threshold_value())
        self._update_summary()

    def _update_summary(self) -> None:
        total = len(self.predictions)
        if not total:
            self.summary.clear()
            return
        errors = sum(1 for p in self.predictions if p.error)
        text = (self.tr("{0} of {1} images below {2}% confidence")
                .replace("{0}", str(self.uncertain_count())).replace("{1}", str(total))
                .replace("{2}", f"{self.threshold_value() * 100:g}"))
        unlike = self.table.unlike_count()
        if unlike:
            text += " · " + self.tr("{0} not like any training class").replace("{0}", str(unlike))
        if errors:
            text += " · " + self.tr("{0} unreadable").replace("{0}", str(errors))
        self.summary.setText(text)

    def _update_view(self) -> None:
        has_model = self.model_path() is not None
        self.add_files_button.setEnabled(has_model)
        self.add_folder_button.setEnabled(has_model)
        self.clear_button.setEnabled(bool(self.predictions))
        self.export_button.setEnabled(bool(self.predictions))
        if self.predictions or self.jobs.is_running():
            self.stack.setCurrentWidget(self.table)
        else:
            self.stack.setCurrentWidget(self.drop_hint if has_model else self.no_model)
