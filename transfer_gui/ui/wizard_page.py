"""What every wizard page provides to the main window, and the scroll area the pages sit in."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFrame, QLabel, QScrollArea, QSizePolicy, QStackedWidget,
                               QVBoxLayout, QWidget)

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


PAGE_MARGINS = (16, 12, 16, 12)  # left, top, right, bottom: the same on every page


def heading(text: str) -> QLabel:
    """A page's title, the same on every page."""
    label = QLabel(text, objectName="heading")
    label.setStyleSheet("font-size: 17pt; font-weight: 600;")
    return label


class _PageHost(QWidget):
    """Holds the page stack in the scroll area. A page with wrapping labels has a height for
    each width; the scroll area takes the page's *preferred* height for it, which would make
    pages scroll that fit. This host answers with the shown page's smallest height instead."""

    def __init__(self, stack: QStackedWidget) -> None:
        super().__init__()
        self.stack = stack
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(stack)

    def heightForWidth(self, width: int) -> int:
        page = self.stack.currentWidget()
        if page is None:
            return super().heightForWidth(width)
        smallest = page.minimumSizeHint().expandedTo(page.minimumSize()).height()
        layout = page.layout()
        if layout is not None and layout.hasHeightForWidth():
            smallest = max(smallest, layout.totalMinimumHeightForWidth(width))
        return smallest


def scrolling_pages(stack: QStackedWidget) -> QScrollArea:
    """A frameless scroll area around the wizard's pages, so a page taller (or wider) than a
    laptop screen scrolls instead of growing the window past the screen and pushing Back/Next
    off it. Only the page shown counts: the others' size policies are Ignored meanwhile, so a
    tall Data page does not make the Results page scroll."""
    policies = {stack.widget(i): stack.widget(i).sizePolicy() for i in range(stack.count())}

    def follow(index: int) -> None:
        shown = stack.widget(index)
        for page, policy in policies.items():
            page.setSizePolicy(policy if page is shown else
                               QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored))
        stack.updateGeometry()

    stack.currentChanged.connect(follow)
    follow(stack.currentIndex())
    area = QScrollArea()
    area.setObjectName("pageScroller")
    area.setWidget(_PageHost(stack))
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    return area
