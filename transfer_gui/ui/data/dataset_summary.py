"""The Data page's "Dataset" box: folder, layout in words, and how many classes and images."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

from transfer_gui.core.data import DatasetScan

from .class_table import SPLITS


class DatasetSummary(QGroupBox):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(self.tr("Dataset"), parent)
        self.folder_label = QLabel(objectName="path", wordWrap=True, textInteractionFlags=(
            Qt.TextInteractionFlag.TextSelectableByMouse))
        self.layout_label, self.size_label = QLabel(wordWrap=True), QLabel()
        form = QFormLayout(self)
        form.addRow(self.tr("Folder:"), self.folder_label)
        form.addRow(self.tr("Layout:"), self.layout_label)
        form.addRow(self.tr("Contents:"), self.size_label)

    def show_scan(self, scan: DatasetScan) -> None:
        self.folder_label.setText(scan.root)
        self.layout_label.setText(self.describe_layout(scan))
        self.size_label.setText(self.tr("{0} classes, {1} images").format(
            scan.num_classes, f"{len(scan.samples):,}"))

    def describe_layout(self, scan: DatasetScan) -> str:
        """The layout in words, e.g. "Folders train/ and val/ found; test split made from train"."""
        tr, made = self.tr, scan.splits_made
        names = {"train": tr("training"), "val": tr("validation"), "test": tr("test")}
        join = lambda items: items[0] if len(items) == 1 else (  # noqa: E731
            ", ".join(items[:-1]) + tr(" and ") + items[-1])
        if scan.layout == "classes":
            shares = " / ".join(f"{round(100 * f)} %"
                                for s, f in zip(SPLITS, scan.split_fractions) if s in made)
            return tr("One folder per class; images split at random into {0} sets ({1}).").format(
                join([names[s] for s in made]), shares)
        present = {s.split for s in scan.samples}
        found = [f"{s}/" for s in SPLITS if s in present and s not in made]
        text = (tr("Folders {0} found") if len(found) > 1 else tr("Folder {0} found")).format(
            join(found))
        if made:
            plural = tr("; {0} splits made from train.") if len(made) > 1 else None
            return text + (plural or tr("; {0} split made from train.")).format(
                join([names[s] for s in made]))
        return text + ("." if "test" in present else tr("; no test split."))
