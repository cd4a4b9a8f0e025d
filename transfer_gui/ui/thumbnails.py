"""Image thumbnails decoded off the GUI thread.

`ThumbnailLoader` runs the decoding; `ThumbnailStrip` is the row of thumbnails a page shows.
The job decodes each file with the core's `open_image_rgb` (EXIF orientation applied), shrinks it
with Pillow and turns it into a `QImage` in the worker thread: QImage is plain memory and safe to
build there, while QPixmap belongs to the GUI thread, so views convert on arrival
(`QPixmap.fromImage`). A new request cancels the previous one and drops its late thumbnails.
"""

from __future__ import annotations

from typing import Optional, Sequence

from PIL import Image
from PySide6.QtCore import QObject, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QStyle, QWidget

from transfer_gui.core.data import ImageReadError, open_image_rgb
from transfer_gui.core.jobs.events import ThumbnailFailed, ThumbnailMade

from .workers import JobHost


def pil_to_qimage(img: Image.Image) -> QImage:
    """Copy an RGB Pillow image into a QImage that owns its pixels (safe in any thread)."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    qimage = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimage.copy()  # detach from `data`, which Python frees


def thumbnail_job(state, paths: Sequence[str], size: int) -> int:
    """Decode and shrink each image; emits ThumbnailMade(path, QImage) or
    ThumbnailFailed(path, reason). Returns how many thumbnails were made."""
    made = 0
    for path in paths:
        state.cancel.raise_if_cancelled()
        try:
            img = open_image_rgb(path)
            img.thumbnail((size, size), Image.Resampling.LANCZOS)
            qimage = pil_to_qimage(img)
        except ImageReadError as error:
            state.emit(ThumbnailFailed(path, error.reason))
        except MemoryError:
            state.emit(ThumbnailFailed(path, "not enough memory to decode this image"))
        else:
            made += 1
            state.emit(ThumbnailMade(path, qimage))
    return made


class ThumbnailLoader(QObject, JobHost):
    """Loads thumbnails in a background thread; one request at a time."""

    thumbnailReady = Signal(str, QImage)  # path, image (at most size x size, aspect kept)
    thumbnailFailed = Signal(str, str)  # path, reason a user can read
    finished = Signal()  # the current request is done (not emitted for a replaced one)

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._runner = self.make_runner(
            events={ThumbnailMade: lambda e: self.thumbnailReady.emit(e.path, e.image),
                    ThumbnailFailed: lambda e: self.thumbnailFailed.emit(e.path, e.reason)},
            stopped=self.finished)

    def request(self, paths: Sequence[str], size: int) -> None:
        """Load thumbnails of `paths`, each fitting in size x size; cancels the last request."""
        self._runner.start(thumbnail_job, list(paths), int(size))

    def cancel(self) -> None:
        self._runner.cancel()

    def is_running(self) -> bool:
        return self._runner.is_running()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel and wait for the loading thread(s); False if one would not stop in time."""
        return self._runner.shutdown(timeout_ms)


def placeholder_pixmap(size: int, widget: QWidget, broken: bool = False) -> QPixmap:
    """A neutral tile shown while a thumbnail loads, or with a warning sign when it failed.
    GUI thread only (QPixmap)."""
    pixmap = QPixmap(QSize(size, size))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0xF3, 0xE3, 0xE1) if broken else QColor(0xE6, 0xE8, 0xEB))
    painter.drawRoundedRect(QRect(1, 1, size - 2, size - 2), 8, 8)
    if broken:
        icon = widget.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        side = size // 3
        painter.drawPixmap((size - side) // 2, (size - side) // 2, icon.pixmap(side, side))
    painter.end()
    return pixmap


def square_pixmap(image: QImage, size: int) -> QPixmap:
    """`image` centred on a transparent size x size square, so thumbnails of any shape line up
    and nothing (no placeholder tile) shows beside a non-square one. GUI thread only."""
    square = QPixmap(size, size)
    square.fill(Qt.GlobalColor.transparent)
    painter = QPainter(square)
    painter.drawImage((size - image.width()) // 2, (size - image.height()) // 2, image)
    painter.end()
    return square


class ThumbnailStrip(QListWidget):
    """A horizontal row of thumbnails: placeholders at once, images as the loader delivers them
    (converted to QPixmap here, in the GUI thread); unreadable files get a warning tile whose
    tooltip says why. Double-clicking one emits `imageActivated(path)`."""

    imageActivated = Signal(str)

    def __init__(self, size: int = 96, parent: Optional[QWidget] = None, **kwargs) -> None:
        super().__init__(parent, viewMode=QListView.ViewMode.IconMode,
                         flow=QListView.Flow.LeftToRight, movement=QListView.Movement.Static,
                         iconSize=QSize(size, size), gridSize=QSize(size + 12, size + 12), **kwargs)
        self.setWrapping(False)
        self.setFixedHeight(size + 34)  # one row plus a horizontal scroll bar
        self.thumb_size = size
        self.loader = ThumbnailLoader(self)
        self.loader.thumbnailReady.connect(self._on_ready)
        self.loader.thumbnailFailed.connect(self._on_failed)
        self._items: dict[str, QListWidgetItem] = {}
        self.itemDoubleClicked.connect(
            lambda item: self.imageActivated.emit(item.data(Qt.ItemDataRole.UserRole)))

    def show_images(self, paths: Sequence[str], tooltips: Sequence[str]) -> None:
        """Show `paths` (replacing what was shown and cancelling its loading)."""
        self.clear()
        loading = QIcon(placeholder_pixmap(self.thumb_size, self))
        self._items = {path: QListWidgetItem(loading, "", self) for path in paths}
        for (path, item), tip in zip(self._items.items(), tooltips):
            item.setToolTip(tip)
            item.setData(Qt.ItemDataRole.UserRole, path)
        self.loader.request(list(paths), self.thumb_size)

    @Slot(str, QImage)
    def _on_ready(self, path: str, image: QImage) -> None:
        if path in self._items:
            self._items[path].setIcon(QIcon(square_pixmap(image, self.thumb_size)))

    @Slot(str, str)
    def _on_failed(self, path: str, reason: str) -> None:
        if path in self._items:
            item = self._items[path]
            item.setIcon(QIcon(placeholder_pixmap(self.thumb_size, self, broken=True)))
            item.setToolTip(f"{item.toolTip()}\n{reason}".strip())
