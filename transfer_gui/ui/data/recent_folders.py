"""The Data page's "Recent folders" list: dataset folders opened before, kept in the settings."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

RECENT_KEY = "data/recent"  # QSettings: up to MAX_RECENT folders, most recent first
MAX_RECENT = 8


def load_recent(settings: QSettings) -> list[str]:
    """The recent dataset folders, most recent first, without folders that no longer exist."""
    value = settings.value(RECENT_KEY, [])
    values = [value] if isinstance(value, str) else list(value or [])
    return [p for p in values if isinstance(p, str) and p and os.path.isdir(p)][:MAX_RECENT]


class RecentFolders(QComboBox):
    """A combo box of the recent folders (disabled when there are none); choosing one emits
    `folderChosen(path)` and the box goes back to its placeholder."""

    folderChosen = Signal(str)

    def __init__(self, settings: QSettings, parent: Optional[QWidget] = None) -> None:
        super().__init__(
            parent, placeholderText=self.tr("Recent folders"), minimumContentsLength=40,
            toolTip=self.tr("Open a folder you used before"),
            sizeAdjustPolicy=QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.settings = settings
        self.folders = load_recent(settings)
        self.activated.connect(self._on_activated)
        self._fill()

    def remember(self, folder: str) -> None:
        """Put `folder` first (once), keep MAX_RECENT, and save the list."""
        key = os.path.normcase(folder)
        self.folders = [folder, *[p for p in self.folders if os.path.normcase(p) != key]]
        del self.folders[MAX_RECENT:]
        self.settings.setValue(RECENT_KEY, self.folders)
        self.settings.sync()
        self._fill()

    def _fill(self) -> None:
        self.clear()
        for i, path in enumerate(self.folders):
            self.addItem(path, path)
            self.setItemData(i, path, Qt.ItemDataRole.ToolTipRole)
        self.setCurrentIndex(-1)
        self.setEnabled(bool(self.folders))

    def _on_activated(self, index: int) -> None:
        path = self.itemData(index)
        self.setCurrentIndex(-1)
        if path:
            self.folderChosen.emit(path)
