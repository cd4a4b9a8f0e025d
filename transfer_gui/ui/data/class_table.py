"""The Data page's class table: images per class and split, sortable, one compact row per class."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from transfer_gui.core.data import DatasetScan

SPLITS = ("train", "val", "test")


def setup_table(table: QTableWidget, headers: list[str], tooltip: str) -> QTableWidget:
    """Make `table` read-only and row-selecting, with compact rows; its first column stretches
    (the second when there are only two). Returns it."""
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setToolTip(tooltip)
    table.setAlternatingRowColors(True)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().setVisible(False)
    # a line of text and a little air: more classes fit on a laptop screen
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0 if len(headers) > 2 else 1, QHeaderView.ResizeMode.Stretch)
    return table


class _ClassItem(QTableWidgetItem):
    """A class-name cell that sorts in the scan's natural order (class2 before class10)."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.data(Qt.ItemDataRole.UserRole) < other.data(Qt.ItemDataRole.UserRole)


class ClassTable(QTableWidget):
    """Class, Train, Validation, Test, Total; click a header to sort. Selecting a row emits
    `classSelected(label, name)`, `label` being the class's index in the scan."""

    classSelected = Signal(int, str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        tr = self.tr
        setup_table(self, [tr("Class"), tr("Train"), tr("Validation"), tr("Test"), tr("Total")],
                    tr("Images per class and split; select a class to see examples, click a "
                       "header to sort"))
        self.setSortingEnabled(True)
        self.itemSelectionChanged.connect(self._on_selection)

    def show_scan(self, scan: DatasetScan) -> None:
        """One row per class of `scan`, in its natural order; the first row is selected."""
        counts = scan.counts()
        self.setSortingEnabled(False)
        self.clearSelection()
        self.setRowCount(len(scan.class_names))
        for row, name in enumerate(scan.class_names):
            self.setItem(row, 0, item := _ClassItem(name))
            item.setData(Qt.ItemDataRole.UserRole, row)
            values = [counts[name][s] for s in SPLITS]
            for col, value in enumerate([*values, sum(values)], start=1):
                self.setItem(row, col, cell := QTableWidgetItem())
                cell.setData(Qt.ItemDataRole.DisplayRole, value)
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        self.selectRow(0)

    def _on_selection(self) -> None:
        rows = self.selectionModel().selectedRows()
        if rows:
            item = self.item(rows[0].row(), 0)
            self.classSelected.emit(item.data(Qt.ItemDataRole.UserRole), item.text())
