"""The Compare window's grid of ticks: which (backbone, mode) runs "Compare" trains.

Modes are the columns, the backbones whose weights are on this computer the rows; the others are
listed greyed below ("download on the Model page"). Until the user ticks something themselves,
the grid follows the chosen backbone: its three modes ticked (`follow`), which is what "Compare
modes" did before the grid existed.
"""

from __future__ import annotations

from typing import Optional, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QFrame, QGridLayout, QLabel, QScrollArea, QVBoxLayout,
                               QWidget)

from transfer_gui.core.models import all_backbones, availability
from transfer_gui.core.models.registry import DOWNLOAD_NEEDED
from transfer_gui.core.training.config import MODES
from transfer_gui.ui.names import mode_name

Cell = tuple[str, str]  # (backbone, mode)
ROWS_SHOWN = 5  # backbones shown before the grid scrolls


class GridPicker(QWidget):
    """Check boxes, one per (backbone here, mode); `changed` when a tick changes."""

    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._boxes: dict[Cell, QCheckBox] = {}
        self._names: dict[str, str] = {}  # backbone -> display name
        self._touched = False  # the user ticked something: stop following the chosen backbone
        self._followed: Optional[str] = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(12)
        self._grid.setVerticalSpacing(2)
        self._scroll = QScrollArea()
        self._scroll.setWidget(self._grid_host)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self._scroll)
        self.missing = QLabel()
        self.missing.setWordWrap(True)
        self.missing.setStyleSheet("color: #888; font-size: 9pt;")
        self.missing.setToolTip(self.tr("These backbones' weights are not on this computer: "
                                        "download or import them on the Model page to compare "
                                        "them here."))
        layout.addWidget(self.missing)
        self.refresh_backbones()

    # ------------------------------------------------------------------------------- building
    def refresh_backbones(self) -> None:
        """Rebuild the rows from the registry (weights may have been downloaded since)."""
        here, missing = [], []
        for spec in all_backbones():
            self._names[spec.name] = spec.display_name
            (missing if availability(spec) == DOWNLOAD_NEEDED else here).append(spec)
        rows = [spec.name for spec in here]
        if rows == self.backbones_here() and self._boxes:
            return  # nothing new
        ticked = set(self.cells())
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._boxes.clear()
        for col, mode in enumerate(MODES, start=1):
            header = QLabel(mode_name(mode))
            header.setStyleSheet("font-weight: 600;")
            header.setAlignment(Qt.AlignmentFlag.AlignCenter)
            header.setToolTip(self.tr("Tick a backbone's box to train it in this mode."))
            self._grid.addWidget(header, 0, col)
        for row, spec in enumerate(here, start=1):
            label = QLabel(spec.display_name)
            label.setToolTip(self.tr("Weights on this computer."))
            self._grid.addWidget(label, row, 0)
            for col, mode in enumerate(MODES, start=1):
                box = QCheckBox()
                what = self.tr("%1 with %2").replace("%1", mode_name(mode)).replace(
                    "%2", spec.display_name)
                box.setToolTip(self.tr("Train %1 and add it to the table.").replace("%1", what))
                box.setAccessibleName(what)
                box.setChecked((spec.name, mode) in ticked)
                box.toggled.connect(self._user_toggled)
                self._grid.addWidget(box, row, col, Qt.AlignmentFlag.AlignCenter)
                self._boxes[(spec.name, mode)] = box
        self.missing.setText(self.tr("Not here (download on the Model page): %1").replace(
            "%1", ", ".join(s.display_name for s in missing)) if missing else "")
        self.missing.setVisible(bool(missing))
        self._fit(len(here))
        QTimer.singleShot(0, self, lambda: self._fit(len(here)))  # once the rows are laid out
        if not self._touched and self._followed:
            self.follow(self._followed)

    def _fit(self, rows: int) -> None:
        """The scroll area as wide as the grid and as tall as ROWS_SHOWN rows of it."""
        hint = self._grid.sizeHint()
        row = hint.height() / max(rows + 1, 1)
        bar = self._scroll.verticalScrollBar().sizeHint().width()
        self._scroll.setFixedWidth(hint.width() + (bar if rows > ROWS_SHOWN else 0) + 2)
        self._scroll.setFixedHeight(int(min(hint.height(), row * (ROWS_SHOWN + 1))) + 2)
        self.missing.setMaximumWidth(self._scroll.width() + 60)

    # ---------------------------------------------------------------------------------- ticks
    def _user_toggled(self) -> None:
        self._touched = True
        self.changed.emit()

    def follow(self, backbone: Optional[str]) -> None:
        """Tick the three modes of `backbone` only, unless the user has ticked boxes already."""
        self._followed = backbone
        if self._touched:
            return
        self._set([(backbone, mode) for mode in MODES] if backbone else [])

    def set_cells(self, cells: Sequence[Cell]) -> None:
        """Tick exactly `cells` (those whose backbone is here); the grid stops following."""
        self._touched = True
        self._set(cells)

    def _set(self, cells: Sequence[Cell]) -> None:
        wanted = set(cells)
        if wanted & set(self._boxes) == set(self.cells()):
            return
        for cell, box in self._boxes.items():
            box.blockSignals(True)
            box.setChecked(cell in wanted)
            box.blockSignals(False)
        self.changed.emit()

    def cells(self) -> list[Cell]:
        """The ticked cells, backbone by backbone (rows), each backbone's modes in order."""
        return [cell for cell, box in self._boxes.items() if box.isChecked()]

    def box(self, backbone: str, mode: str) -> Optional[QCheckBox]:
        return self._boxes.get((backbone, mode))

    def backbones_here(self) -> list[str]:
        return list(dict.fromkeys(b for b, _ in self._boxes))

    def display_name(self, backbone: str) -> str:
        return self._names.get(backbone, backbone)
