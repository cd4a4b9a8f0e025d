"""A thumbnail gallery of images (a confusion-matrix cell, the misclassified list) that can
send any of them to the CAM panel. Thumbnails are decoded off the GUI thread."""

from __future__ import annotations

from typing import NamedTuple, Optional

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QImage, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QMenu, QToolButton, QVBoxLayout, QWidget)

from transfer_gui.ui.thumbnails import ThumbnailLoader, placeholder_pixmap


THUMB = 96  # px, side of the square thumbnails


class Entry(NamedTuple):
    """One image in a gallery."""

    path: str
    text: str
    true: str
    predicted: str
    detail: str = ""


class ImageGallery(QWidget):
    """A caption, a grid of thumbnails and the actions on the selected image."""

    openInCam = Signal(str, str, str)  # path, true class, predicted class
    thumbnailsLoaded = Signal()

    def __init__(self, cache: dict[str, QPixmap], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._rows: dict[str, list[int]] = {}
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setGridSize(QSize(THUMB + 40, THUMB + 44))
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setToolTip(self.tr("Double-click an image to explain the prediction with CAM; "
                                     "right-click for more."))
        self.cam_action = QAction(self.tr("Explain with CAM…"), self.list)
        self.cam_action.setToolTip(self.tr("Show which parts of the selected image the model "
                                           "looked at (class activation map)"))
        self.cam_action.setShortcut(QKeySequence(Qt.Key.Key_Return))
        self.cam_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.cam_action.triggered.connect(lambda: self._explain(self.list.currentItem()))
        self.open_action = QAction(self.tr("Open image"), self.list)
        self.open_action.setToolTip(self.tr("Open the selected image in your image viewer"))
        self.open_action.triggered.connect(self._open_current)
        self.list.addActions([self.cam_action, self.open_action])
        buttons = QHBoxLayout()
        buttons.addWidget(self.caption, 1)
        for action in (self.open_action, self.cam_action):
            button = QToolButton()
            button.setDefaultAction(action)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        self.list.itemDoubleClicked.connect(self._explain)
        self.list.currentItemChanged.connect(self._update_actions)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.loader = ThumbnailLoader(self)
        self.loader.thumbnailReady.connect(self._on_thumbnail)
        self.loader.thumbnailFailed.connect(self._on_failed)
        self.loader.finished.connect(self.thumbnailsLoaded)
        self._update_actions()

    def set_images(self, entries: list[Entry], caption: str) -> None:
        self.loader.cancel()
        self.caption.setText(caption)
        self.list.clear()
        self._rows = {}
        placeholder = QIcon(placeholder_pixmap(THUMB, self))
        for row, e in enumerate(entries):
            item = QListWidgetItem(e.text)
            item.setData(Qt.ItemDataRole.UserRole, (e.path, e.true, e.predicted))
            item.setToolTip(e.path + (f"\n{e.detail}" if e.detail else ""))
            cached = self._cache.get(e.path)
            item.setIcon(QIcon(cached) if cached is not None else placeholder)
            self.list.addItem(item)
            self._rows.setdefault(e.path, []).append(row)
        missing = [p for p in self._rows if p not in self._cache]
        if missing:
            self.loader.request(missing, THUMB)
        else:
            self.thumbnailsLoaded.emit()
        self._update_actions()

    def paths(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole)[0]
                for i in range(self.list.count())]

    def has_thumbnail(self, row: int) -> bool:
        return self.list.item(row).data(Qt.ItemDataRole.UserRole)[0] in self._cache

    def shutdown(self) -> None:
        """Stop loading thumbnails and wait for the loader's thread."""
        self.loader.shutdown()

    def _on_thumbnail(self, path: str, image: QImage) -> None:
        square = QPixmap(THUMB, THUMB)  # centred on a square, so captions line up
        square.fill(Qt.GlobalColor.transparent)
        painter = QPainter(square)
        painter.drawImage((THUMB - image.width()) // 2, (THUMB - image.height()) // 2, image)
        painter.end()
        self._set_icon(path, square)

    def _on_failed(self, path: str, reason: str) -> None:
        self._set_icon(path, placeholder_pixmap(THUMB, self, broken=True))
        for row in self._rows.get(path, []):
            self.list.item(row).setToolTip(f"{self.list.item(row).toolTip()}\n{reason}")

    def _set_icon(self, path: str, pixmap: QPixmap) -> None:
        self._cache[path] = pixmap
        for row in self._rows.get(path, []):
            self.list.item(row).setIcon(QIcon(pixmap))

    def _update_actions(self, *_args) -> None:
        for action in (self.cam_action, self.open_action):
            action.setEnabled(self.list.currentItem() is not None)

    def _explain(self, item: Optional[QListWidgetItem]) -> None:
        if item is not None:
            self.openInCam.emit(*item.data(Qt.ItemDataRole.UserRole))

    def _open_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(item.data(Qt.ItemDataRole.UserRole)[0]))

    def _context_menu(self, pos) -> None:
        if self.list.itemAt(pos) is not None:
            self.list.setCurrentItem(self.list.itemAt(pos))
            QMenu.exec(self.list.actions(), self.list.viewport().mapToGlobal(pos), None, self.list)
