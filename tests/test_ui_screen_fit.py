"""Windows open no larger than the screen (the guide's 1366x768 laptop: a 1280x800 window would
push Back/Next below the bottom edge)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QRect  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

from transfer_gui.ui import screen_fit  # noqa: E402


class FakeScreen:
    def __init__(self, width: int, height: int) -> None:
        self.free = QRect(0, 0, width, height)

    def availableGeometry(self) -> QRect:  # noqa: N802 (Qt's name)
        return self.free


@pytest.mark.parametrize("screen, expected", [((1366, 768 - 40), (1280, 680)),
                                              ((1920, 1080), (1280, 800))])
def test_a_window_opens_within_the_free_screen_area(qtbot, monkeypatch, screen, expected):
    widget = QWidget()
    qtbot.addWidget(widget)
    monkeypatch.setattr(widget, "screen", lambda: FakeScreen(*screen))
    screen_fit.fit_to_screen(widget, 1280, 800)
    assert (widget.width(), widget.height()) == expected


def test_a_geometry_saved_on_a_big_monitor_shrinks_onto_the_laptop(qtbot, monkeypatch):
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.resize(1900, 1000)
    widget.move(3000, 0)
    monkeypatch.setattr(widget, "screen", lambda: FakeScreen(1366, 728))
    screen_fit.keep_on_screen(widget)
    assert widget.width() <= 1366 - screen_fit.FRAME_ALLOWANCE[0]
    assert widget.height() <= 728 - screen_fit.FRAME_ALLOWANCE[1]
    assert widget.x() == 0


def test_the_main_window_opens_within_the_screen(make_window):
    window = make_window()
    free = window.screen().availableGeometry()
    assert window.width() <= free.width() and window.height() <= free.height()
