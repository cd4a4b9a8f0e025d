"""Two Settings rows about files on this computer: where outputs go (change, open), and how
much room the saved backbone features take (their limit, Clear)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QPushButton, QSizePolicy, QWidget)

from transfer_gui.core.feature_cache import FeatureCache, default_feature_cache
from transfer_gui.ui.folders import (FEATURE_LIMIT_KEY, GB, choose_output_folder,
                                     feature_limit_bytes, open_folder, output_folder)


def format_bytes(size: int) -> str:
    """1536 -> '1.5 KB', plainly (powers of 1024, as file managers on most desktops show)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


class StorageRows(QWidget):
    """The outputs folder and the saved-features rows; `on_folder_changed` gets a newly chosen
    outputs folder (the main window moves its runs folder there)."""

    def __init__(self, settings: QSettings, cache: Optional[FeatureCache] = None,
                 on_folder_changed: Optional[Callable[[Path], None]] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._cache = cache
        self._on_folder_changed = on_folder_changed
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)

        self.folder_label = QLabel()
        self.folder_label.setObjectName("outputFolder")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A long path must not widen the page (it fits 1366 px); the tooltip has all of it.
        self.folder_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        change = QPushButton(self.tr("Choo&se…"))
        change.setToolTip(self.tr("Choose another folder for new runs and saved files"))
        change.clicked.connect(self.choose_folder)
        show = QPushButton(self.tr("V&iew"))
        show.setToolTip(self.tr("Open the outputs folder in the file manager"))
        show.clicked.connect(lambda: open_folder(self, self._created_folder()))
        row = QHBoxLayout()
        row.addWidget(self.folder_label, 1)
        row.addWidget(change)
        row.addWidget(show)
        form.addRow(self.tr("Outputs folder:"), row)

        self.features_label = QLabel()
        self.features_label.setObjectName("featureCacheSize")
        self.features_label.setToolTip(self.tr(
            "What the pretrained model computed for each image is kept, so training again on the "
            "same images (also after restarting the app) skips that step."))
        self.limit = QDoubleSpinBox()
        self.limit.setRange(0.1, 1000.0)
        self.limit.setDecimals(1)
        self.limit.setSuffix(" GB")
        self.limit.setPrefix(self.tr("at most "))
        self.limit.setToolTip(self.tr("When the saved features grow past this, those used least "
                                      "recently are deleted."))
        self.limit.setValue(feature_limit_bytes(settings) / GB)
        self.limit.valueChanged.connect(self._set_limit)
        self.clear_button = QPushButton(self.tr("Clear"))  # its letters are all taken on this page
        self.clear_button.setToolTip(self.tr("Delete the saved features now; they are computed "
                                             "again when needed."))
        self.clear_button.clicked.connect(self.clear)
        row = QHBoxLayout()
        row.addWidget(self.features_label, 1)
        row.addWidget(self.limit)
        row.addWidget(self.clear_button)
        form.addRow(self.tr("Saved features:"), row)
        self.refresh()

    @property
    def cache(self) -> FeatureCache:
        return self._cache if self._cache is not None else default_feature_cache()

    def _created_folder(self) -> Path:
        folder = output_folder(self.settings)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # open_folder then says where it would be
        return folder

    def refresh(self) -> None:
        """Show the current outputs folder and the saved features' size."""
        folder = str(output_folder(self.settings))
        self.folder_label.setText(folder)
        self.folder_label.setToolTip(self.tr("Runs and the files you save from the app go to "
                                             "{folder}").format(folder=folder))
        on_disk = self.cache.disk is not None
        self.features_label.setText(format_bytes(self.cache.disk_bytes()) if on_disk
                                    else self.tr("kept in memory only"))
        self.limit.setEnabled(on_disk)
        self.clear_button.setEnabled(on_disk and self.cache.disk_bytes() > 0)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        self.refresh()  # the size changes as runs train
        super().showEvent(event)

    def choose_folder(self) -> None:
        start = str(output_folder(self.settings))
        folder = QFileDialog.getExistingDirectory(self, self.tr("Folder for outputs"), start)
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: Optional[str]) -> None:
        new = choose_output_folder(self.settings, folder)
        self.refresh()
        if self._on_folder_changed is not None:
            self._on_folder_changed(new)

    def _set_limit(self, gigabytes: float) -> None:
        self.settings.setValue(FEATURE_LIMIT_KEY, gigabytes)
        if self.cache.disk is not None:
            self.cache.disk.max_bytes = int(gigabytes * GB)
            self.cache.disk.evict()
        self.refresh()

    def clear(self) -> int:
        """Delete the saved features; returns the bytes freed."""
        freed = self.cache.clear_disk()
        self.refresh()
        self.features_label.setText(self.tr("{now} (deleted {freed})").format(
            now=self.features_label.text(), freed=format_bytes(freed)))
        return freed
