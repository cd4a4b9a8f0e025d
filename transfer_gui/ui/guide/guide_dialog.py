"""Help > Guide: a short walk through the six steps, one screen each with a picture, and a page
that explains the result numbers in plain words.

Pictures are package data (transfer_gui/resources/guide/, small copies of docs/screenshots),
read with importlib.resources so they load from an installed wheel or a frozen bundle; a missing
picture only leaves its space empty.
"""

from __future__ import annotations

from importlib import resources
from typing import Optional

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget,
                               QStackedWidget, QVBoxLayout, QWidget)

from .guide_text import NUMBERS, NUMBERS_TITLE, STEPS, GuideScreen

PICTURE_WIDTH = 520
PICTURES = "resources/guide"  # inside the transfer_gui package


def tr(text: str) -> str:
    return QCoreApplication.translate("Guide", text)


def load_picture(name: str) -> Optional[QPixmap]:
    """The guide picture `name` from transfer_gui/resources/guide/, or None if it is missing or
    unreadable (the guide then shows its text alone)."""
    if not name:
        return None
    try:
        data = (resources.files("transfer_gui") / PICTURES / name).read_bytes()
    except (OSError, FileNotFoundError, ModuleNotFoundError):
        return None
    pixmap = QPixmap()
    return pixmap if pixmap.loadFromData(data) and not pixmap.isNull() else None


def _title(text: str) -> QLabel:
    label = QLabel(text, wordWrap=True)
    label.setStyleSheet("font-size: 15pt; font-weight: 600;")
    return label


def _text(text: str) -> QLabel:
    label = QLabel(text, wordWrap=True,
                   textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet("font-size: 11pt;")
    return label


class GuideDialog(QDialog):
    """The guide: a list of screens on the left, the chosen screen on the right."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Transfer GUI guide"))
        self.contents = QListWidget(toolTip=tr("The guide's screens"))
        self.contents.setFixedWidth(230)
        self.screens = QStackedWidget()
        self.pictures_shown = 0  # how many screens have their picture (for the self-check)
        for screen in STEPS:
            self._add(tr(screen.title), self._step_screen(screen))
        self._add(tr(NUMBERS_TITLE), self._numbers_screen())
        self.contents.currentRowChanged.connect(self._show)

        self.buttons = QDialogButtonBox()
        self.previous_button = self.buttons.addButton(tr("< &Previous"),
                                                      QDialogButtonBox.ButtonRole.ActionRole)
        self.next_button = self.buttons.addButton(tr("N&ext >"),
                                                  QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton(tr("&Close"),
                                                   QDialogButtonBox.ButtonRole.RejectRole)
        self.previous_button.setToolTip(tr("The screen before"))
        self.next_button.setToolTip(tr("The next screen"))
        self.close_button.setToolTip(tr("Close the guide (Esc)"))
        self.previous_button.clicked.connect(lambda: self.show_screen(self.current() - 1))
        self.next_button.clicked.connect(lambda: self.show_screen(self.current() + 1))
        self.buttons.rejected.connect(self.reject)
        QShortcut(QKeySequence.StandardKey.Close, self, activated=self.reject)

        body = QHBoxLayout()
        body.addWidget(self.contents)
        body.addWidget(self.screens, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        self.show_screen(0)

    def _add(self, title: str, widget: QWidget) -> None:
        self.contents.addItem(title)
        self.screens.addWidget(widget)

    def _step_screen(self, screen: GuideScreen) -> QWidget:
        widget = QWidget()
        layout = QVBoxLayout(widget)
        layout.addWidget(_title(tr(screen.title)))
        layout.addWidget(_text(tr(screen.text)))
        pixmap = load_picture(screen.picture)
        if pixmap is not None:
            picture = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
            picture.setObjectName("guidePicture")
            picture.setPixmap(pixmap.scaledToWidth(
                min(PICTURE_WIDTH, pixmap.width()), Qt.TransformationMode.SmoothTransformation))
            picture.setToolTip(tr("The {0} step of the app").format(tr(screen.title)))
            layout.addWidget(picture)
            self.pictures_shown += 1
        layout.addStretch(1)
        return widget

    def _numbers_screen(self) -> QWidget:
        widget = QWidget()
        layout = QVBoxLayout(widget)
        layout.addWidget(_title(tr(NUMBERS_TITLE)))
        rows = "".join(f"<p><b>{tr(name)}</b> — {tr(text)}</p>" for name, text in NUMBERS)
        text = _text(rows)
        text.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(text)
        layout.addStretch(1)
        return widget

    def current(self) -> int:
        return self.screens.currentIndex()

    def show_screen(self, index: int) -> None:
        """Show screen `index` (0-5: the steps; 6: the numbers), clamped to the range."""
        index = max(0, min(index, self.screens.count() - 1))
        self.contents.setCurrentRow(index)
        self._show(index)

    def show_numbers(self) -> None:
        """Open on "What do these numbers mean?"."""
        self.show_screen(self.screens.count() - 1)

    def _show(self, index: int) -> None:
        if index < 0:
            return
        self.screens.setCurrentIndex(index)
        self.previous_button.setEnabled(index > 0)
        self.next_button.setEnabled(index < self.screens.count() - 1)
