"""The Data page's first-run hint: where the guide is, until the user dismisses it (remembered)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from .guide_dialog import tr

DISMISSED_KEY = "hints/first_run_dismissed"


class FirstRunHint(QFrame):
    """A one-line banner: "New here? ..." with Open the guide and Dismiss buttons."""

    guideRequested = Signal()

    def __init__(self, settings: QSettings, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setObjectName("firstRunHint")
        self.setStyleSheet("QFrame#firstRunHint { background: #e8f1fb; border: 1px solid #b6cfe9;"
                           " border-radius: 6px; }")
        text = QLabel(tr("New here? The guide shows the six steps from a folder of images to a "
                         "classifier, with a picture of each (also under Help > Guide, F1)."),
                      wordWrap=True)
        self.open_button = QPushButton(tr("Open the &guide"), toolTip=tr("Show the guide now"))
        self.open_button.clicked.connect(self.guideRequested)
        self.dismiss_button = QPushButton(tr("&Dismiss"),
                                          toolTip=tr("Hide this hint; it will not come back"))
        self.dismiss_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(text, 1)
        layout.addWidget(self.open_button)
        layout.addWidget(self.dismiss_button)
        self.setVisible(not self.dismissed(settings))

    @staticmethod
    def dismissed(settings: QSettings) -> bool:
        return str(settings.value(DISMISSED_KEY, "false")).lower() in ("true", "1")

    def dismiss(self) -> None:
        """Hide the hint for good (remembered in the settings)."""
        self.settings.setValue(DISMISSED_KEY, True)
        self.settings.sync()
        self.hide()
