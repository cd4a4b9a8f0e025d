"""Step 5, Results: headline scores, the confusion matrix, per-class scores and the mistakes.

It shows the selected run (`state.result`); when the project holds several runs, the "Run:"
picker in the header chooses which (`run_picker.RunPicker`). Everything below the headline
follows the split selector. Clicking a matrix cell lists that cell's images in a gallery
(thumbnails load off the GUI thread, see `gallery.ImageGallery`).
"""

from __future__ import annotations

import html
import os
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFrame, QHBoxLayout, QHeaderView,
                               QLabel, QPushButton, QSplitter, QStackedWidget, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ..confusion import ConfusionMatrixView
from ..gallery import Entry, ImageGallery
from ..run_picker import RunPicker
from ..state import AppState
from .base import WizardPage


class _Number(QTableWidgetItem):
    """A table cell showing a number with fixed decimals that sorts by value."""

    def __init__(self, value: float, decimals: int = 3) -> None:
        super().__init__(f"{value:.{decimals}f}" if decimals else str(int(value)))
        self.setData(Qt.ItemDataRole.UserRole, float(value))
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.data(Qt.ItemDataRole.UserRole) < other.data(Qt.ItemDataRole.UserRole)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{seconds:.1f} s"


class ResultsPage(WizardPage):
    """Shows state.result: scores, confusion matrix, per-class table and misclassified images."""

    openInCam = Signal(str, str, str)  # path, true class, predicted class
    exportRequested = Signal()  # "Export model…": the main window opens the export dialog

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(state, parent)
        self._thumbs: dict[str, QPixmap] = {}
        self._split: Optional[str] = None
        self.empty = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty.setStyleSheet("font-size: 15pt; color: palette(dark);")
        self.headline = QLabel()
        self.headline.setStyleSheet("font-size: 22pt; font-weight: 600;")
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel(wordWrap=True)
        self.note = QLabel(wordWrap=True)
        self.note.setStyleSheet("color: #b35900;")
        self.run_picker = RunPicker(state)
        self.export_button = QPushButton(self.tr("Export model…"))
        self.export_button.setToolTip(self.tr("Save this run's model as TorchScript, ONNX or a "
                                              "model bundle; the export is checked right away"))
        self.export_button.clicked.connect(self.exportRequested)
        self.split_combo = QComboBox()
        self.split_combo.setToolTip(self.tr("Which images the views below are computed on"))
        self.split_combo.currentIndexChanged.connect(self._on_split_changed)
        self.matrix = ConfusionMatrixView()
        self.matrix.cellActivated.connect(self.show_cell)
        self.per_class = QTableWidget(0, 5)
        self.per_class.setHorizontalHeaderLabels(
            [self.tr("Class"), self.tr("Precision"), self.tr("Recall"), self.tr("F1"),
             self.tr("Support")])
        self.per_class.setToolTip(self.tr("Precision: share of the images predicted as the class "
                                          "that really are. Recall: share of the class's images "
                                          "found. Click a header to sort."))
        self.per_class.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.per_class.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.per_class.verticalHeader().hide()
        self.per_class.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.per_class.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.cell_gallery = ImageGallery(self._thumbs)
        self.mistakes = ImageGallery(self._thumbs)
        for gallery in (self.cell_gallery, self.mistakes):
            gallery.openInCam.connect(self.openInCam)
        self._build_layout()
        state.resultChanged.connect(self.refresh)
        self.refresh()

    def _build_layout(self) -> None:
        def section(title: str, hint: str, widget: QWidget, stretch: int = 1) -> QWidget:
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            label = QLabel(f"<b>{title}</b>" + (f" <span style='color:gray'>— {hint}</span>"
                                                 if hint else ""))
            lay.addWidget(label)
            lay.addWidget(widget, stretch)
            return box

        # The header stays above the stack, so the run picker is there even for a run with no
        # scores to show (then only the split selector and the texts are hidden).
        top = QHBoxLayout()
        text = QVBoxLayout()
        for w in (self.headline, self.details, self.note):
            text.addWidget(w)
        top.addLayout(text, 1)
        top.addWidget(self.run_picker, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        self.split_box = QWidget()
        split_row = QHBoxLayout(self.split_box)
        split_row.setContentsMargins(12, 0, 0, 0)
        split_row.addWidget(QLabel(self.tr("Show split:")))
        split_row.addWidget(self.split_combo)
        top.addWidget(self.split_box, 0, Qt.AlignmentFlag.AlignTop)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(section(self.tr("Confusion matrix"),
                               self.tr("rows: true class, columns: predicted; click a cell"),
                               self.matrix))
        left.addWidget(section(self.tr("Per-class scores"), "", self.per_class))
        left.setSizes([420, 220])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.cell_gallery)
        right.addWidget(self.mistakes)
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(right)
        main.setSizes([560, 640])
        line = QFrame(frameShape=QFrame.Shape.HLine, frameShadow=QFrame.Shadow.Sunken)
        content = QWidget()
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(line)
        lay.addWidget(main, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.addLayout(top)
        outer.addWidget(self.stack, 1)

    def title(self) -> str:
        return self.tr("Results")

    def shutdown(self) -> None:
        self.cell_gallery.shutdown()
        self.mistakes.shutdown()

    def split_label(self, split: str) -> str:
        return self.tr("Validation") if split == "val" else self.tr("Test")

    def current_split(self) -> Optional[str]:
        return self._split

    def set_split(self, split: str) -> None:
        self.split_combo.setCurrentIndex(self.split_combo.findData(split))

    # ------------------------------------------------------------------ updating
    def refresh(self) -> None:
        result = self.state.result
        self.export_button.setEnabled(result is not None and result.has_model)
        evaluation = result.evaluation if result is not None else None
        self._thumbs.clear()
        self._split = None
        if evaluation is None:
            self.empty.setText(self.tr("Train a model to see its results here.") if result is None
                               else self.tr("This run was stopped before it was evaluated, so "
                                            "there are no scores to show. Train again and let it "
                                            "finish to see its results."))
            for label in (self.headline, self.details, self.note):
                label.clear()
            self.note.hide()
            self.split_box.hide()
            self.stack.setCurrentIndex(0)
            self.cell_gallery.set_images([], "")
            self.mistakes.set_images([], "")
            return
        primary = evaluation["primary_split"]
        scores = evaluation["splits"][primary]
        self.headline.setText(self.tr("{0} accuracy {1:.1f}% · macro-F1 {2:.3f}").format(
            self.split_label(primary), 100 * scores["accuracy"], scores["macro_f1"]))
        epochs = len(result.history)
        stop = result.stop_reason or self.tr("ran all {0} epochs").format(epochs)
        self.details.setText(self.tr(
            "Best epoch {0} of {1} · {2} · trained in {3} on {4} · {5} {6} images").format(
            evaluation.get("best_epoch", "?"), epochs, stop, _duration(result.seconds),
            result.device or "?", scores["num_samples"], self.split_label(primary).lower()))
        self.note.setText(self.tr("⚠ Training was cancelled: these are the scores of the best "
                                  "model saved before it stopped.") if result.cancelled else "")
        self.note.setVisible(result.cancelled)
        self.split_combo.blockSignals(True)
        self.split_combo.clear()
        for split in ("val", "test"):
            if split in evaluation["splits"]:
                self.split_combo.addItem(self.split_label(split), split)
        self.split_combo.blockSignals(False)
        self.split_box.show()
        self.stack.setCurrentIndex(1)
        self.set_split(primary)
        self._on_split_changed()

    def _on_split_changed(self, *_args) -> None:
        split = self.split_combo.currentData()
        evaluation = self.state.result.evaluation if self.state.result else None
        if split is None or evaluation is None or split == self._split:
            return
        self._split = split
        scores, names = evaluation["splits"][split], evaluation["class_names"]
        self.matrix.set_matrix(scores["confusion_matrix"], names)
        self._fill_per_class(scores["per_class"])
        wrong = scores["misclassified"]
        caption = (self.tr("<b>Misclassified {0} images: {1}</b> — most confident mistakes first")
                   .format(self.split_label(split).lower(), len(wrong)) if wrong else
                   self.tr("<b>No misclassified {0} images</b> — every prediction was right.")
                   .format(self.split_label(split).lower()))
        self.mistakes.set_images([self._mistake_entry(m) for m in wrong], caption)
        cm = scores["confusion_matrix"]
        cells = [(cm[t][p], t, p) for t in range(len(names)) for p in range(len(names)) if t != p]
        _count, t, p = max(cells, default=(0, 0, 0))  # the commonest mix-up, else the first class
        self.matrix.select_cell(t, p if _count else t)

    def _mistake_entry(self, m: dict) -> Entry:
        return Entry(m["file"], f"{m['true']} → {m['predicted']} ({100 * m['probability']:.0f}%)",
                     m["true"], m["predicted"],
                     self.tr("True: {0} ({1:.0f}%) · predicted: {2} ({3:.0f}%)").format(
                         m["true"], 100 * m["true_probability"], m["predicted"],
                         100 * m["probability"]))

    def _fill_per_class(self, rows: list[dict]) -> None:
        table = self.per_class
        table.setSortingEnabled(False)
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            table.setItem(r, 0, QTableWidgetItem(row["class"]))
            for c, key in enumerate(("precision", "recall", "f1"), start=1):
                table.setItem(r, c, _Number(row[key]))
            table.setItem(r, 4, _Number(row["support"], decimals=0))
        table.setSortingEnabled(True)

    def show_cell(self, true_index: int, predicted_index: int) -> None:
        """List the images of one confusion-matrix cell of the current split."""
        evaluation = self.state.result.evaluation if self.state.result else None
        if evaluation is None or self._split is None:
            return
        scores, names = evaluation["splits"][self._split], evaluation["class_names"]
        true, pred = names[true_index], names[predicted_index]
        missing = ""
        if true_index != predicted_index:
            entries = [self._mistake_entry(m) for m in scores["misclassified"]
                       if m["true"] == true and m["predicted"] == pred]
        else:
            wrong = {m["file"] for m in scores["misclassified"]}
            dataset = self.state.result.dataset
            samples = dataset.split(self._split) if dataset is not None else []
            missing = "" if dataset is not None else self.tr(" (the list is not available)")
            entries = [Entry(s.path, os.path.basename(s.path), true, true) for s in samples
                       if s.label == true_index and s.path not in wrong]
        n = len(entries)
        images = self.tr("1 image") if n == 1 else self.tr("{0} images").format(n)
        true, pred = html.escape(true), html.escape(pred)
        caption = (self.tr("<b>{0} predicted correctly: {1}</b>").format(true, images)
                   if true_index == predicted_index else
                   self.tr("<b>{0} predicted as {1}: {2}</b>").format(true, pred, images))
        self.cell_gallery.set_images(entries, caption + missing)
