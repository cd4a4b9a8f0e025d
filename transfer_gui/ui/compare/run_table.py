"""The Compare window's table of runs: one row per run, its columns, their tips and how they sort.

`RunTable.show_runs` fills it from RunSummary rows (core/compare.py), keeping the sort the user
chose; each row's first cell carries the run's colour (its curves' colour) and its index.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem,
                               QWidget)

from transfer_gui.core.compare import RunSummary
from transfer_gui.ui.names import mode_name
from transfer_gui.ui.project.run_picker import backbone_label, summary_label

# One colour per run (matplotlib's tab10), reused cyclically.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the number a column sorts by
INDEX_ROLE = Qt.ItemDataRole.UserRole + 2  # the run's index in summaries()


class _Item(QTableWidgetItem):
    """A table cell that sorts by SORT_ROLE (numbers) when set, else by its text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if a is not None and b is not None:
            return a < b
        if a is None and b is not None:
            return True  # missing values sort first
        if a is not None and b is None:
            return False
        return self.text().lower() < other.text().lower()


NUMERIC = {3, 4, 5, 7, 8, 9, 10, 11}  # right-aligned columns


class RunTable(QTableWidget):
    """One row per run: settings, scores, times and peak memory."""

    COLUMNS = ("run", "backbone", "mode", "epochs", "lr", "batch", "augmentation",
               "best_val_acc", "macro_f1", "time", "epoch_time", "peak_memory")

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        headers = (self.tr("Run"), self.tr("Backbone"), self.tr("Mode"), self.tr("Epochs"),
                   self.tr("Learning rate"), self.tr("Batch size"), self.tr("Augmentation"),
                   self.tr("Best val. accuracy"), self.tr("Macro-F1"), self.tr("Training time"),
                   self.tr("Time per epoch"), self.tr("Peak memory"))
        self.setHorizontalHeaderLabels(headers)
        tips = (self.tr("The run: its number in the project, mode, backbone, best validation "
                        "accuracy, and “stopped” when it was stopped before the end; its colour "
                        "matches its curves (hover for the folder)."),
                self.tr("Pretrained network the model is built on."),
                self.tr("Transfer mode: feature extraction, fine-tuning or from scratch."),
                self.tr("Epochs run / maximum epochs (early stopping may end sooner)."),
                self.tr("Learning rate of the new head."),
                self.tr("Images per optimisation step."),
                self.tr("Data augmentation preset."),
                self.tr("Best validation accuracy over the epochs."),
                self.tr("Macro-averaged F1 on the evaluation split (test when there is one)."),
                self.tr("Wall-clock training time."),
                self.tr("Mean time of one training epoch (a feature-extraction round is the "
                        "fit on features computed once; their computation is in Training "
                        "time)."),
                self.tr("The app's memory (resident set) at its highest during the run, "
                        "measured about five times a second; it includes the app itself (hover "
                        "a cell for the amount at the run's start). “–”: not measured."))
        for col, tip in enumerate(tips):
            self.horizontalHeaderItem(col).setToolTip(tip)
        self.setToolTip(self.tr("One row per run. Click a header to sort; select rows to "
                                "highlight their curves."))
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # runs in the order added

    def show_runs(self, summaries: Sequence[RunSummary]) -> None:
        """Rebuild the rows (a handful of runs: cheap), in the sort the user chose."""
        sort_col = self.horizontalHeader().sortIndicatorSection()
        sort_order = self.horizontalHeader().sortIndicatorOrder()
        self.setSortingEnabled(False)
        self.clearContents()
        self.setRowCount(len(summaries))
        for row, s in enumerate(summaries):
            colour = PALETTE[row % len(PALETTE)]
            for col, (text, key) in enumerate(self.row_cells(s, row + 1)):
                item = _Item(text)
                if key is not None:
                    item.setData(SORT_ROLE, float(key))
                item.setData(INDEX_ROLE, row)
                if col in NUMERIC:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if col == 0:
                    item.setData(Qt.ItemDataRole.DecorationRole, pg.mkColor(colour))
                    if s.cancelled:  # a stopped run stands out
                        item.setForeground(QColor("#a15c00"))
                    tip = f"{item.text()}\n{s.path}"
                    if s.stop_reason:
                        tip += "\n" + self.tr("Stopped: ") + s.stop_reason
                    item.setToolTip(tip)
                if col == 2:
                    item.setData(Qt.ItemDataRole.UserRole, s.mode)
                if col == 11 and s.start_memory_bytes is not None:
                    item.setToolTip(self.tr("%1 MB at the run's start").replace(
                        "%1", f"{s.start_memory_bytes / 2**20:,.0f}"))
                self.setItem(row, col, item)
        self.setSortingEnabled(True)
        if sort_col >= 0:
            self.sortItems(sort_col, sort_order)
        else:
            self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def duration(self, seconds: Optional[float]) -> str:
        """A time as the table shows it: "0.73 s", "50.2 s", "7 min 25 s", "1 h 05 min"."""
        if seconds is None:
            return "–"
        if seconds < 60:  # a feature-extraction round takes hundredths of a second
            return self.tr("%1 s").replace("%1", f"{seconds:.2g}" if seconds < 1
                                           else f"{seconds:.1f}")
        minutes, secs = divmod(int(round(seconds)), 60)
        if minutes < 60:
            return self.tr("%1 min %2 s").replace("%1", str(minutes)).replace("%2", f"{secs:02d}")
        hours, minutes = divmod(minutes, 60)
        return self.tr("%1 h %2 min").replace("%1", str(hours)).replace("%2", f"{minutes:02d}")

    def row_cells(self, s: RunSummary, number: int) -> list[tuple[str, Any]]:
        """The cells of one run's row: (text, the number it sorts by or None)."""
        dash = "–"
        epochs = f"{s.epochs_run}/{s.max_epochs}" if s.max_epochs is not None else str(s.epochs_run)
        return [
            (summary_label(number, s), float(number)),
            (backbone_label(s.backbone) if s.backbone else dash, None),
            (mode_name(s.mode), None),
            (epochs, float(s.epochs_run)),
            (f"{s.learning_rate:g}" if s.learning_rate is not None else dash, s.learning_rate),
            (str(s.batch_size) if s.batch_size is not None else dash,
             float(s.batch_size) if s.batch_size is not None else None),
            (s.augmentation or dash, None),
            (f"{s.best_val_acc:.1%}" if s.best_val_acc is not None else dash, s.best_val_acc),
            (f"{s.macro_f1:.3f}" if s.macro_f1 is not None else dash, s.macro_f1),
            (self.duration(s.seconds), s.seconds),
            (self.duration(s.epoch_seconds), s.epoch_seconds),
            (f"{s.peak_memory_bytes / 2**20:,.0f} MB" if s.peak_memory_bytes is not None
             else dash, s.peak_memory_bytes),
        ]
