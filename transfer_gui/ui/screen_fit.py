"""Windows open no larger than the screen they are on (a 1366x768 laptop included)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

# Room left for the window manager's title bar and borders, which Qt's sizes do not include.
FRAME_ALLOWANCE = (16, 48)


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Resize `window` to width x height, or to what its screen's free area allows (the
    taskbar and panels excluded), whichever is smaller; never below its minimum size."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        free = screen.availableGeometry()
        width = min(width, free.width() - FRAME_ALLOWANCE[0])
        height = min(height, free.height() - FRAME_ALLOWANCE[1])
    minimum = window.minimumSizeHint()
    window.resize(max(width, minimum.width()), max(height, minimum.height()))


def keep_on_screen(window: QWidget) -> None:
    """After restoring a saved geometry (perhaps from a bigger monitor), shrink the window to
    fit this screen and move it back onto it."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    free = screen.availableGeometry()
    if window.width() > free.width() - FRAME_ALLOWANCE[0] or \
            window.height() > free.height() - FRAME_ALLOWANCE[1]:
        fit_to_screen(window, window.width(), window.height())
    frame = window.frameGeometry()
    if not free.intersects(frame):
        window.move(free.topLeft())
