"""The CAM panel's "Grid of a class" tab: overlays for several images of one class, computed
off the GUI thread (core/jobs/explain.py); double-click one to explain it on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from transfer_gui.core.cam.overlay import overlay
from transfer_gui.core.jobs.events import Explained
from transfer_gui.core.jobs.explain import explain_job

from .cam_views import to_qimage, veil_unseen
from transfer_gui.ui.workers import JobHost


class ClassGrid(QWidget, JobHost):
    """A caption naming the class (chosen with the panel's one "Class:" control), how many
    images, "Show grid", and the overlays."""

    showRequested = Signal()  # "Show grid" pressed: the panel starts `show` with its choices
    imageChosen = Signal(str)  # an image double-clicked: explain it on its own

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._alpha, self._colormap = 0.5, "jet"
        self.runner = self.make_runner(events={Explained: self._on_explained})
        self.caption = QLabel(wordWrap=True)
        self.caption.setToolTip(self.tr("Choose the class with “Class:” above"))
        self.count = QSpinBox()
        self.count.setRange(1, 64)
        self.count.setValue(12)
        self.count.setToolTip(self.tr("How many images"))
        self.button = QPushButton(self.tr("Show &grid"))
        self.button.setToolTip(self.tr("Overlays for several images of the class"))
        self.button.clicked.connect(self.showRequested)
        controls = QHBoxLayout()
        controls.addWidget(self.caption, 1)
        for w in (QLabel(self.tr("Images:")), self.count, self.button):
            controls.addWidget(w)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(200, 200))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setToolTip(self.tr("Double-click an image to explain it on its own"))
        self.list.itemDoubleClicked.connect(
            lambda item: self.imageChosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.list, 1)

    def show_images(self, model_path: str, paths: Sequence[str], method: str, target: int,
                    layer: Optional[str], alpha: float, colormap: str,
                    member: Optional[int] = None) -> None:
        """Explain `paths` for class index `target` (an ensemble: with its `member`) and list
        their overlays as they come."""
        self.list.clear()
        self._alpha, self._colormap = alpha, colormap
        self.runner.start(explain_job, model_path, list(paths), method, target, layer, False,
                          member)

    def _on_explained(self, event: Explained) -> None:
        payload = event.item
        e = payload.explanation
        over = overlay(payload.display_image, payload.display_map, alpha=self._alpha,
                       colormap=self._colormap)
        item = QListWidgetItem(f"{Path(e.path).name}\n{e.predicted_name} "
                               f"{e.predicted_probability:.0%}")
        item.setIcon(QPixmap.fromImage(to_qimage(veil_unseen(over, payload.display_seen))))
        item.setData(Qt.ItemDataRole.UserRole, e.path)
        item.setToolTip(e.path)
        self.list.addItem(item)

    def shutdown(self) -> None:
        self.runner.shutdown()
