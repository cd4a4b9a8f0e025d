"""The Data page's "Skipped files" list: the files left out of the dataset, and why."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtWidgets import QGroupBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from transfer_gui.core.data import DatasetScan

from .class_table import setup_table


def relative_to(path: str, root: str) -> str:
    """`path` relative to `root` when it lies inside it (on the same drive), else as it is."""
    same_drive = os.path.splitdrive(path)[0] == os.path.splitdrive(root)[0]
    rel = os.path.relpath(path, root) if same_drive else ".."
    return path if rel.startswith("..") else rel


class SkippedFiles(QGroupBox):
    """"Skipped files (n)": file (relative to the dataset, full path on hover) and reason;
    hidden when nothing was skipped."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.table = setup_table(QTableWidget(), [self.tr("File"), self.tr("Reason")], self.tr(
            "Files left out of the dataset and why; fix or remove them and choose the folder "
            "again"))
        QVBoxLayout(self).addWidget(self.table)

    def show_scan(self, scan: DatasetScan) -> None:
        self.table.setRowCount(len(scan.skipped))
        for row, skipped in enumerate(scan.skipped):
            path = QTableWidgetItem(relative_to(skipped.path, scan.root))
            path.setToolTip(skipped.path)
            self.table.setItem(row, 0, path)
            self.table.setItem(row, 1, QTableWidgetItem(skipped.reason))
        self.setTitle(self.tr("Skipped files ({0})").format(len(scan.skipped)))
        self.setVisible(bool(scan.skipped))
