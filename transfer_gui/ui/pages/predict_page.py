"""Step 6, Predict: classify new images with the trained model.

Images (files, folders, or dropped on the page) are predicted in a background job that loads the
model itself and streams its results batch by batch (`("rows", [Prediction, ...])` events), so
big folders fill the table as they go and Stop keeps what was done. Thumbnails load off the GUI
thread (`ThumbnailLoader`). A confidence threshold flags uncertain rows at once, without
predicting again; the table exports to the same CSV columns as `transfer-gui predict --csv`.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QDoubleSpinBox, QFileDialog, QHBoxLayout,
                               QHeaderView, QLabel, QProgressBar, QPushButton, QStackedWidget,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from transfer_gui.core.atomic import atomic_write
from transfer_gui.core.data import IMAGE_EXTENSIONS
from transfer_gui.core.errors import UserError
from transfer_gui.core.jobs import Progress
from transfer_gui.core.model_file import load_model
from transfer_gui.core.predict import Prediction, collect_images, predict_images

from ..state import AppState
from ..thumbnails import ThumbnailLoader, placeholder_pixmap
from ..workers import TaskRunner
from .base import WizardPage, heading

TOP_K = 3
THUMB = 40
CSV_COLUMNS = ["file", "predicted", "probability", *[f"top{i + 1}" for i in range(TOP_K)], "error"]

COL_THUMB, COL_FILE, COL_PREDICTED, COL_CONFIDENCE, COL_TOP, COL_FLAG = range(6)

UNCERTAIN_BG = QColor(0xFF, 0xF1, 0xCC)  # amber
ERROR_BG = QColor(0xFB, 0xE0, 0xDD)  # soft red


def predict_job(state, model_path: str, files: Sequence[str], batch_size: int,
                top_k: int = TOP_K) -> int:
    """Load the model and predict `files`, emitting ("rows", [Prediction, ...]) per batch.
    Returns how many images were predicted. Runs in a worker thread."""
    state.progress(Progress(None, "Loading the model…", stage="load"))
    loaded = load_model(model_path)
    state.cancel.raise_if_cancelled()
    pending: list[Prediction] = []
    done = 0

    def flush() -> None:
        if pending:
            state.emit("rows", list(pending))
            pending.clear()

    def progress(p: Progress) -> None:  # called once after each batch: send that batch's rows
        flush()
        state.progress(p)

    for prediction in predict_images(loaded, list(files), top_k=top_k, batch_size=batch_size,
                                     progress=progress, cancel=state.cancel):
        pending.append(prediction)
        done += 1
    flush()
    return done


def csv_row(p: Prediction, top_k: int = TOP_K) -> list[str]:
    """One CSV row, exactly as the CLI writes it."""
    tops = [f"{c}:{q:.4f}" for c, q in p.top] + [""] * (top_k - len(p.top))
    return [p.path, p.predicted, f"{p.probability:.6f}" if not p.error else "",
            *tops[:top_k], p.error]


class _Percent(QTableWidgetItem):
    """A confidence cell: shows a percentage, sorts by value."""

    def __init__(self, value: Optional[float]) -> None:
        super().__init__("" if value is None else f"{value * 100:.1f}%")
        self.setData(Qt.ItemDataRole.UserRole, -1.0 if value is None else float(value))
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.data(Qt.ItemDataRole.UserRole) < other.data(Qt.ItemDataRole.UserRole)


class PredictPage(WizardPage):
    """Predicts the classes of images the user adds, with the model of state.result."""

    openInCam = Signal(str)  # path of a double-clicked image

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(state, parent)
        self.batch_size = 16
        self.predictions: list[Prediction] = []  # in row order
        self._rows: dict[str, int] = {}  # path -> row
        self._queue: list[str] = []  # files waiting for the running job to end
        self._inflight: list[str] = []  # files of the running job
        self._job_total = self._job_done = 0
        self._discard = False  # drop late rows of a job stopped by clear()
        self._thumbs: dict[str, QPixmap] = {}
        self._thumb_failed: set[str] = set()
        self._loading_icon: Optional[QIcon] = None
        self.setAcceptDrops(True)

        self.runner = TaskRunner(self)
        self.runner.event.connect(self._on_event)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.failed.connect(self._on_failed)
        self.runner.stopped.connect(self._on_stopped)
        self.thumbnails = ThumbnailLoader(self)
        self.thumbnails.thumbnailReady.connect(self._on_thumb)
        self.thumbnails.thumbnailFailed.connect(self._on_thumb_failed)

        help_label = QLabel(self.tr(
            "Add images or folders (or drop them here) to see what the trained model predicts. "
            "Rows below the confidence threshold are flagged for a closer look; double-click a "
            "row to see where the model looked."), wordWrap=True)
        help_label.setStyleSheet("color: palette(dark);")

        self.add_files_button = QPushButton(self.tr("Add images…"))
        self.add_files_button.setToolTip(self.tr("Choose one or more image files to predict"))
        self.add_files_button.clicked.connect(self._choose_files)
        self.add_folder_button = QPushButton(self.tr("Add folder…"))
        self.add_folder_button.setToolTip(
            self.tr("Choose a folder: every image in it and its subfolders is predicted"))
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.clear_button = QPushButton(self.tr("Clear"))
        self.clear_button.setToolTip(self.tr("Remove every row from the table"))
        self.clear_button.clicked.connect(self.clear)
        self.export_button = QPushButton(self.tr("Export CSV…"))
        self.export_button.setToolTip(self.tr(
            "Save the table as CSV (file, predicted, probability, top1..top3, error), "
            "the same columns as the command line's --csv"))
        self.export_button.clicked.connect(self._choose_export)

        threshold_label = QLabel(self.tr("Flag below"))
        self.threshold = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=3,
                                        value=0.7)
        self.threshold.setToolTip(self.tr(
            "Confidence threshold (0–1): rows whose top class has a lower probability are "
            "flagged as uncertain"))
        threshold_label.setToolTip(self.threshold.toolTip())
        threshold_label.setBuddy(self.threshold)
        self.threshold.valueChanged.connect(self._reflag)

        tools = QHBoxLayout()
        tools.addWidget(self.add_files_button)
        tools.addWidget(self.add_folder_button)
        tools.addWidget(self.clear_button)
        tools.addStretch(1)
        tools.addWidget(threshold_label)
        tools.addWidget(self.threshold)
        tools.addSpacing(12)
        tools.addWidget(self.export_button)

        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["", self.tr("File"), self.tr("Predicted"),
                                              self.tr("Confidence"), self.tr("Top 3"),
                                              self.tr("Flag")])
        self.table.setToolTip(self.tr("Double-click a row to open the image in the class "
                                      "activation map view"))
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 8)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_THUMB, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(COL_THUMB, THUMB + 12)
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_PREDICTED, 180), (COL_CONFIDENCE, 100), (COL_TOP, 260),
                           (COL_FLAG, 100)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(col, width)
        self.table.cellDoubleClicked.connect(self._on_double_click)

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
        self.status = QLabel()
        self.status.setToolTip(self.tr("What the prediction job is doing"))
        self.progress_bar = QProgressBar(textVisible=True)
        self.progress_bar.setToolTip(self.tr("Images predicted so far"))
        self.progress_bar.setMaximumWidth(320)
        self.stop_button = QPushButton(self.tr("Stop"))
        self.stop_button.setToolTip(self.tr("Stop predicting; the rows so far are kept"))
        self.stop_button.clicked.connect(self.stop)

        footer = QHBoxLayout()
        footer.addWidget(self.summary)
        footer.addStretch(1)
        footer.addWidget(self.status)
        footer.addWidget(self.progress_bar)
        footer.addWidget(self.stop_button)

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Predict")))
        layout.addWidget(help_label)
        layout.addLayout(tools)
        layout.addWidget(self.stack, 1)
        layout.addLayout(footer)

        self.state.resultChanged.connect(self._on_result_changed)
        self._set_running(False)
        self._update_view()

    # ------------------------------------------------------------------ WizardPage
    def title(self) -> str:
        return self.tr("Predict")

    def blocker(self) -> str:
        return ""

    def on_enter(self) -> None:
        self._update_view()

    def shutdown(self) -> None:
        self._queue.clear()
        self.runner.shutdown()
        self.thumbnails.shutdown()

    # ------------------------------------------------------------------ public API
    def model_path(self) -> Optional[Path]:
        result = self.state.result
        if result is None:
            return None
        return Path(result.run_dir) / "model.pt"

    def add_paths(self, paths: Sequence[str]) -> int:
        """Predict the images in `paths` (files and folders), appending rows to the table.
        Returns how many new images were queued (files already in the table are skipped)."""
        if self.model_path() is None:
            self._show_status(self.tr("Train a model first"), error=True)
            return 0
        try:
            files = collect_images([str(p) for p in paths])
        except UserError as exc:
            self._show_status(str(exc), error=True)
            return 0
        seen = set(self._rows) | set(self._queue) | set(self._inflight)
        new = []
        for f in files:
            if f not in seen:
                seen.add(f)
                new.append(f)
        if not new:
            self._show_status(self.tr("No new images found"), error=not files)
            return 0
        self._queue.extend(new)
        self._request_thumbnails(new)
        if not self.runner.is_running():
            self._start_next()
        return len(new)

    def stop(self) -> None:
        """Stop predicting (within one batch); rows so far stay."""
        self._queue.clear()
        self.runner.cancel()

    def clear(self) -> None:
        self.stop()
        self._discard = self.runner.is_running()
        self.predictions.clear()
        self._rows.clear()
        self.table.setRowCount(0)
        self.progress_bar.reset()
        self._update_view()

    def is_running(self) -> bool:
        return self.runner.is_running()

    def threshold_value(self) -> float:
        return float(self.threshold.value())

    def set_threshold(self, value: float) -> None:
        self.threshold.setValue(value)

    def flag_of(self, row: int) -> str:
        """"error", "uncertain" or "" for table row `row`."""
        p = self.predictions[row]
        if p.error:
            return "error"
        return "uncertain" if p.probability < self.threshold_value() else ""

    def uncertain_count(self) -> int:
        return sum(self.flag_of(r) == "uncertain" for r in range(len(self.predictions)))

    def export_csv(self, path: str | os.PathLike) -> Path:
        """Write the table (CLI --csv columns) atomically; returns the path written."""
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(CSV_COLUMNS)
        for p in self.predictions:
            writer.writerow(csv_row(p))
        data = text.getvalue().encode("utf-8")
        return atomic_write(path, lambda f: f.write(data))

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
                self._show_status(self.tr("Could not save: ") + str(exc), error=True)
            else:
                self._show_status(self.tr("Saved ") + path)

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

    # ------------------------------------------------------------------ job
    def _start_next(self) -> None:
        model = self.model_path()
        if not self._queue or model is None:
            return
        files, self._queue = self._queue, []
        self._inflight = files
        self._discard = False
        self._job_total = len(files)
        self._job_done = 0
        self.progress_bar.setRange(0, len(files))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(self.tr("%v of %m"))
        self._show_status(self.tr("Loading the model…"))
        self._set_running(True)
        self.runner.start(predict_job, str(model), files, int(self.batch_size))

    @Slot(str, object)
    def _on_event(self, name: str, payload) -> None:
        if name == "rows" and not self._discard:
            self._append_rows(payload)
            self._job_done += len(payload)
            self.progress_bar.setValue(self._job_done)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        if progress.stage == "load":
            self._show_status(self.tr("Loading the model…"))
        else:
            self._show_status(self.tr("Predicting…"))

    @Slot(object)
    def _on_finished(self, count) -> None:
        self._show_status(self.tr("Predicted {0} images").replace("{0}", str(count)))

    @Slot(object)
    def _on_cancelled(self, _result) -> None:
        self._show_status(self.tr("Stopped after {0} of {1} images")
                          .replace("{0}", str(self._job_done)).replace("{1}", str(self._job_total)))

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._queue.clear()
        self._show_status(message, error=True)
        if details:
            self.status.setToolTip(details)

    @Slot()
    def _on_stopped(self) -> None:
        self._inflight = []
        if self._queue:
            self._start_next()
        else:
            self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.progress_bar.setVisible(running)
        self.stop_button.setVisible(running)
        self.stop_button.setEnabled(running)
        self._update_view()

    def _show_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #b3261e;" if error else "")
        self.status.setToolTip(self.tr("What the prediction job is doing"))

    @Slot()
    def _on_result_changed(self) -> None:
        self.clear()  # predictions of another model would mislead
        self.status.clear()

    # ------------------------------------------------------------------ table
    def _append_rows(self, predictions: Sequence[Prediction]) -> None:
        if self._loading_icon is None:
            self._loading_icon = QIcon(placeholder_pixmap(THUMB, self))
        table = self.table
        table.setUpdatesEnabled(False)
        for p in predictions:
            row = table.rowCount()
            table.insertRow(row)
            self.predictions.append(p)
            self._rows[p.path] = row
            thumb = QTableWidgetItem()
            thumb.setIcon(self._icon_for(p.path))
            thumb.setToolTip(p.path)
            name = QTableWidgetItem(os.path.basename(p.path))
            name.setToolTip(p.path)
            name.setData(Qt.ItemDataRole.UserRole, p.path)
            if p.error:
                predicted = QTableWidgetItem(p.error)
                predicted.setToolTip(self.tr("Could not read this image: ") + p.error)
                predicted.setForeground(QBrush(QColor(0xB3, 0x26, 0x1E)))
                confidence = _Percent(None)
                top = QTableWidgetItem("")
            else:
                predicted = QTableWidgetItem(p.predicted)
                predicted.setToolTip(p.predicted)
                confidence = _Percent(p.probability)
                top_text = " · ".join(f"{c} {q * 100:.0f}%" for c, q in p.top)
                top = QTableWidgetItem(top_text)
                top.setToolTip(top_text)
            for col, item in ((COL_THUMB, thumb), (COL_FILE, name), (COL_PREDICTED, predicted),
                              (COL_CONFIDENCE, confidence), (COL_TOP, top),
                              (COL_FLAG, QTableWidgetItem())):
                table.setItem(row, col, item)
            self._flag_row(row)
        table.setUpdatesEnabled(True)
        self._update_summary()
        self._update_view()

    def _flag_row(self, row: int) -> None:
        flag = self.flag_of(row)
        item = self.table.item(row, COL_FLAG)
        if flag == "error":
            item.setText(self.tr("Error"))
            item.setToolTip(self.tr("The image could not be read"))
            brush = QBrush(ERROR_BG)
        elif flag == "uncertain":
            item.setText(self.tr("Uncertain"))
            item.setToolTip(self.tr("Confidence below the threshold"))
            brush = QBrush(UNCERTAIN_BG)
        else:
            item.setText("")
            item.setToolTip("")
            brush = QBrush()
        item.setData(Qt.ItemDataRole.UserRole, flag)
        for col in range(self.table.columnCount()):
            cell = self.table.item(row, col)
            if cell is not None:
                cell.setBackground(brush)

    @Slot()
    def _reflag(self) -> None:
        self.table.setUpdatesEnabled(False)
        for row in range(self.table.rowCount()):
            self._flag_row(row)
        self.table.setUpdatesEnabled(True)
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
        if errors:
            text += " · " + self.tr("{0} unreadable").replace("{0}", str(errors))
        self.summary.setText(text)

    def _update_view(self) -> None:
        has_model = self.model_path() is not None
        self.add_files_button.setEnabled(has_model)
        self.add_folder_button.setEnabled(has_model)
        self.clear_button.setEnabled(bool(self.predictions))
        self.export_button.setEnabled(bool(self.predictions))
        if self.predictions or self.runner.is_running():
            self.stack.setCurrentWidget(self.table)
        else:
            self.stack.setCurrentWidget(self.drop_hint if has_model else self.no_model)

    @Slot(int, int)
    def _on_double_click(self, row: int, _col: int) -> None:
        if 0 <= row < len(self.predictions) and not self.predictions[row].error:
            self.openInCam.emit(self.predictions[row].path)

    # ------------------------------------------------------------------ thumbnails
    def _request_thumbnails(self, new: Sequence[str]) -> None:
        """Ask for thumbnails still missing (a new request replaces the loader's last one)."""
        wanted = [p for p in [*self._rows, *self._inflight, *self._queue]
                  if p not in self._thumbs and p not in self._thumb_failed]
        if wanted:
            self.thumbnails.request(wanted, THUMB)

    def _icon_for(self, path: str) -> QIcon:
        if path in self._thumbs:
            return QIcon(self._thumbs[path])
        if path in self._thumb_failed:
            return QIcon(placeholder_pixmap(THUMB, self, broken=True))
        return self._loading_icon

    def has_thumbnail(self, row: int) -> bool:
        return self.predictions[row].path in self._thumbs

    @Slot(str, QImage)
    def _on_thumb(self, path: str, image: QImage) -> None:
        self._thumbs[path] = QPixmap.fromImage(image)
        row = self._rows.get(path)
        if row is not None:
            self.table.item(row, COL_THUMB).setIcon(QIcon(self._thumbs[path]))

    @Slot(str, str)
    def _on_thumb_failed(self, path: str, reason: str) -> None:
        self._thumb_failed.add(path)
        row = self._rows.get(path)
        if row is not None:
            self.table.item(row, COL_THUMB).setIcon(self._icon_for(path))
