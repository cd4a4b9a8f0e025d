"""What every wizard page provides to the main window."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QWidget

from .state import AppState


class WizardPage(QWidget):
    """A step of the wizard. `blocker()` says why Next is disabled ("" when it is not)."""

    completeChanged = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state

    def title(self) -> str:
        raise NotImplementedError

    def blocker(self) -> str:
        """Why the user cannot go on from this page yet, in a sentence; "" if they can."""
        return ""

    def on_enter(self) -> None:
        """Called each time the page is shown."""

    def shutdown(self) -> None:
        """Called when the window closes: stop background work this page started."""


def heading(text: str) -> QLabel:
    """A page's title, the same on every page."""
    label = QLabel(text, objectName="heading")
    label.setStyleSheet("font-size: 17pt; font-weight: 600;")
    return label
