"""The start-up screen: shown at once, while PyTorch and the pages load (seconds on a laptop)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QSplashScreen

SPLASH_TITLE = "Transfer GUI - starting"  # the window title; bench/startup.py waits for it
WIDTH, HEIGHT, ICON = 420, 260, 128


def _picture(icon: Path) -> QPixmap:
    screen = QGuiApplication.primaryScreen()
    ratio = screen.devicePixelRatio() if screen else 1.0
    pixmap = QPixmap(int(WIDTH * ratio), int(HEIGHT * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(QColor("white"))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    logo = QPixmap(str(icon))
    if not logo.isNull():
        painter.drawPixmap(QRect((WIDTH - ICON) // 2, 24, ICON, ICON), logo)
    font = QFont(painter.font())
    font.setPointSize(16)
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("#202020"))
    painter.drawText(QRect(0, 24 + ICON + 8, WIDTH, 32), Qt.AlignmentFlag.AlignHCenter,
                     "Transfer GUI")
    painter.setPen(QColor("#b0b0b0"))
    painter.drawRect(0, 0, WIDTH - 1, HEIGHT - 1)
    painter.end()
    return pixmap


class StartupSplash(QSplashScreen):
    """A picture with a line of progress underneath; `step()` changes the line at once."""

    def __init__(self, icon: Path) -> None:
        super().__init__(_picture(icon))
        self.setWindowTitle(SPLASH_TITLE)

    def step(self, message: str) -> None:
        self.showMessage(message, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                         QColor("#404040"))
        QApplication.processEvents()

    def show_now(self, message: str, timeout_s: float = 0.5) -> None:
        """Show, and give the window system up to `timeout_s` to put it on screen before the
        start-up work blocks the event loop."""
        self.show()
        self.step(message)
        deadline = time.monotonic() + timeout_s
        while not (self.windowHandle() and self.windowHandle().isExposed()):
            if time.monotonic() > deadline:
                break
            QApplication.processEvents()
            time.sleep(0.01)
        self.repaint()
