"""Start the desktop application."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

import torch  # noqa: F401  (imported before PySide6: the other order breaks torch's DLLs on Windows)
from PySide6.QtCore import QLibraryInfo, QLocale, QSettings, QTranslator
from PySide6.QtWidgets import QApplication

from transfer_gui.core.runtime import tune_memory_allocator

ORGANIZATION = "transfer_gui"
APPLICATION = "Transfer GUI"
TRANSLATIONS = Path(__file__).resolve().parents[2] / "resources" / "translations"


def install_translators(app: QApplication, locale: Optional[QLocale] = None) -> list[QTranslator]:
    """Qt's own strings and ours (resources/translations/transfer_gui_<lang>.qm) in the locale."""
    locale = locale or QLocale.system()
    translators = []
    for name, folder in (("qtbase", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)),
                         ("transfer_gui", str(TRANSLATIONS))):
        translator = QTranslator(app)
        if translator.load(locale, name, "_", folder):
            app.installTranslator(translator)
            translators.append(translator)
    return translators


def create_app(argv: Optional[Sequence[str]] = None) -> QApplication:
    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    install_translators(app)
    return app


def run_app(argv: Optional[Sequence[str]] = None) -> int:
    tune_memory_allocator()
    app = create_app(argv)
    from .main_window import MainWindow

    window = MainWindow(QSettings())
    window.show()
    return app.exec()
