"""The Results page's per-class table: precision, recall, F1 and support, sortable by value."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem,
                               QWidget)


class _Number(QTableWidgetItem):
    """A table cell showing a number with fixed decimals that sorts by value."""

    def __init__(self, value: float, decimals: int = 3) -> None:
        super().__init__(f"{value:.{decimals}f}" if decimals else str(int(value)))
        self.setData(Qt.ItemDataRole.UserRole, float(value))
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.data(Qt.ItemDataRole.UserRole) < other.data(Qt.ItemDataRole.UserRole)


class PerClassTable(QTableWidget):
    """One row per class of a split's `per_class` scores; click a header to sort."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(0, 5, parent)
        self.setHorizontalHeaderLabels(
            [self.tr("Class"), self.tr("Precision"), self.tr("Recall"), self.tr("F1"),
             self.tr("Support")])
        self.setToolTip(self.tr("Precision: share of the images predicted as the class that "
                                "really are. Recall: share of the class's images found. Click a "
                                "header to sort."))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().hide()
        # Long class names are cut short with "…" on one line (the tooltip has the name).
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(48)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def set_rows(self, rows: list[dict]) -> None:
        self.setSortingEnabled(False)
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            name = QTableWidgetItem(row["class"])
            name.setToolTip(row["class"])
            self.setItem(r, 0, name)
            for c, key in enumerate(("precision", "recall", "f1"), start=1):
                self.setItem(r, c, _Number(row[key]))
            self.setItem(r, 4, _Number(row["support"], decimals=0))
        self.setSortingEnabled(True)
