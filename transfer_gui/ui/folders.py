"""Where the desktop app keeps files, and showing a folder to the user.

Outputs (runs, saved overlays, predictions) go to a visible folder the user can find and change
(core/output_folder.py; the choice is kept in the settings). Backbone features are kept in the
app's own data folder (core/feature_store.py), within a size limit the user can change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QSettings, QStandardPaths, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from transfer_gui.core.feature_store import DEFAULT_MAX_BYTES
from transfer_gui.core.output_folder import default_output_folder, set_output_folder

if TYPE_CHECKING:
    from transfer_gui.core.feature_cache import FeatureCache

OUTPUT_FOLDER_KEY = "outputs/folder"
FEATURE_LIMIT_KEY = "features/max_gb"
GB = 1024 ** 3


def documents_location() -> Optional[str]:
    return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or None


def output_folder(settings: QSettings) -> Path:
    """The outputs folder the user chose in Settings, else "Transfer GUI" under Documents; every
    part of the app that calls core's default_output_folder() gets it from now on."""
    chosen = str(settings.value(OUTPUT_FOLDER_KEY, "") or "")
    set_output_folder(None)
    folder = Path(chosen).expanduser() if chosen else default_output_folder(documents_location())
    set_output_folder(folder)  # so core's guess of Documents never differs from Qt's
    return folder


def choose_output_folder(settings: QSettings, folder: Optional[str | os.PathLike]) -> Path:
    """Remember `folder` (None: back to the default) and use it from now on."""
    settings.setValue(OUTPUT_FOLDER_KEY, str(folder) if folder else "")
    return output_folder(settings)


def feature_cache_folder() -> Path:
    """The app's data folder for cached backbone features (not for the user to browse)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(base) / "features"


def feature_limit_bytes(settings: QSettings) -> int:
    try:
        gigabytes = float(settings.value(FEATURE_LIMIT_KEY, DEFAULT_MAX_BYTES / GB))
    except (TypeError, ValueError):
        gigabytes = DEFAULT_MAX_BYTES / GB
    return int(max(gigabytes, 0.0) * GB)


def configure_feature_cache(settings: QSettings) -> "FeatureCache":
    """Make the app's runs keep their backbone features on disk between sessions."""
    from transfer_gui.core.feature_cache import configure_default_feature_cache

    return configure_default_feature_cache(feature_cache_folder(), feature_limit_bytes(settings))


def open_folder(parent: Optional[QWidget], folder: str | os.PathLike) -> Optional[QMessageBox]:
    """Show `folder` in the file manager. Where there is none (openUrl fails), say where the
    folder is, with the path selectable and a Copy button; returns that message (else None)."""
    path = os.fspath(folder)
    if QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
        return None
    box = QMessageBox(QMessageBox.Icon.Information, parent.tr("Folder") if parent else "Folder",
                      path, QMessageBox.StandardButton.Close, parent)
    box.setObjectName("folderPathMessage")
    box.setInformativeText(box.tr("No file manager could be opened here. The folder is at the "
                                  "path above: copy it into your file manager or terminal."))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                               | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    copy = box.addButton(box.tr("&Copy path"), QMessageBox.ButtonRole.AcceptRole)
    copy.setToolTip(box.tr("Put the folder's path on the clipboard"))
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(path))
    box.setDefaultButton(copy)
    box.open()
    return box
