"""The CAM panel's pictures: a scaled image view, the labelled colour bar, the veil over the
parts of an image the model never saw, and the note on how much to trust a map."""

from __future__ import annotations

import html

from typing import Optional

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from transfer_gui.core.cam.overlay import colorbar

VEIL_GREY = 150  # the grey the unseen edges fade to
VEIL_STRENGTH = 0.7  # 0 keeps them as they are, 1 makes them flat grey


def to_qimage(rgb: np.ndarray) -> QImage:
    """uint8 (H, W, 3) -> a QImage that owns its pixels (safe to pass between threads)."""
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def veil_unseen(rgb: np.ndarray, seen: Optional[np.ndarray]) -> np.ndarray:
    """`rgb` with the pixels outside `seen` (a (h, w) bool mask) faded to grey; unchanged when
    there is no mask or the model saw the whole image."""
    if seen is None or seen.all():
        return rgb
    out = rgb.astype(np.float32)
    out[~seen] = (1 - VEIL_STRENGTH) * out[~seen] + VEIL_STRENGTH * VEIL_GREY
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class ImageView(QLabel):
    """Shows a pixmap scaled to fit, keeping its aspect ratio."""

    def __init__(self, tooltip: str) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(180, 180)
        self.setToolTip(tooltip)
        self.setStyleSheet("background: #fafafa; border: 1px solid #ddd;")
        self._pixmap: Optional[QPixmap] = None

    def set_image(self, rgb: Optional[np.ndarray]) -> None:
        self._pixmap = QPixmap.fromImage(to_qimage(rgb)) if rgb is not None else None
        self._rescale()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is None:
            self.clear()
            return
        self.setPixmap(self._pixmap.scaled(self.size() - QSize(4, 4),
                                           Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))


class ColourBar(QWidget):
    """The heatmap's legend: a vertical bar from low attention (bottom) to high (top)."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.high = QLabel(self.tr("high"), alignment=Qt.AlignmentFlag.AlignCenter)
        self.low = QLabel(self.tr("low"), alignment=Qt.AlignmentFlag.AlignCenter)
        self.bar = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.setToolTip(self.tr("How strongly each part of the image drove the model towards "
                                "the class: high attention at the top, low at the bottom"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.high)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.low)

    def set_colormap(self, colormap: str) -> None:
        self.bar.setPixmap(QPixmap.fromImage(to_qimage(colorbar(colormap, 200, 16))))

    def texts(self) -> tuple[str, str]:
        """(top, bottom) labels (for tests and checks)."""
        return self.high.text(), self.low.text()


class TrustNote(QLabel):
    """"How much to trust this map": the map's deletion test (core/cam/trust.py) in one
    sentence, green when the map beats a random area, red when it does not."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setToolTip(self.tr(
            "The model's probability for the class with the map's top 20% blurred out, against "
            "the same-shaped area blurred at random places (the mean of 8). A map that shows "
            "the evidence lowers it much more than a random area does."))

    def show_check(self, check, class_name: str) -> None:
        """Show `check` (a TrustCheck, or None: nothing highlighted, nothing to test)."""
        if check is None:
            self.clear()
            return
        colour = "#1b7f3b" if check.beats_random else "#b3261e"
        self.setText(f"<b>{self.tr('How much to trust this map:')}</b> <span style='color:"
                     f"{colour}'>{html.escape(check.sentence(class_name))}</span>")
