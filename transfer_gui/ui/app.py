"""Start the desktop application."""

from __future__ import annotations

import importlib.resources
import sys
from pathlib import Path
from typing import Optional, Sequence

if sys.platform == "win32":
    import torch  # noqa: F401  (before PySide6: the other order breaks torch's DLLs on Windows)
from PySide6.QtCore import QEvent, QLibraryInfo, QLocale, QObject, QSettings, QTimer, QTranslator
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from transfer_gui.core.project import PROJECT_SUFFIX
from transfer_gui.core.runtime import tune_memory_allocator

ORGANIZATION = "transfer_gui"
APPLICATION = "Transfer GUI"
# Package data (pyproject.toml), so a wheel, an editable install and a frozen build all have it.
RESOURCES = Path(str(importlib.resources.files("transfer_gui") / "resources"))
TRANSLATIONS = RESOURCES / "translations"
APP_ICON = RESOURCES / "icons" / "generated" / "app-256.png"


def install_translators(app: QApplication, locale: Optional[QLocale] = None) -> list[QTranslator]:
    """Qt's own strings and ours (the package's resources/translations/transfer_gui_<lang>.qm)."""
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
    if APP_ICON.is_file():
        app.setWindowIcon(QIcon(str(APP_ICON)))
    install_translators(app)
    return app


class ProjectFileOpener(QObject):
    """Opens project files that macOS hands over as FileOpen events (a double-click in Finder
    sends no command-line argument)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and event.file().lower().endswith(PROJECT_SUFFIX):
            self.window.projects.open(event.file())
            return True
        return False


def open_main_window(project: Optional[str] = None, settings: Optional[QSettings] = None):
    """Show the main window; open `project` (a .tgproj path) once the event loop runs."""
    from .folders import configure_feature_cache
    from .main_window import MainWindow

    if settings is None:  # the app's own settings, and its own data folder
        settings = QSettings()
        configure_feature_cache(settings)  # features kept on disk between sessions
    window = MainWindow(settings)
    window.show()
    QApplication.instance().installEventFilter(ProjectFileOpener(window))
    if project:
        QTimer.singleShot(0, window, lambda: window.projects.open(project))
    else:  # runs of an earlier session never saved in a project: Open them / Discard / Later
        QTimer.singleShot(0, window, window.projects.offer_unsaved_runs)
    return window


# Modules the training job would otherwise import on its worker thread at its first run: importing
# an extension module holds the interpreter lock, which froze the window for 186 ms (the engine's
# modules) and 295 ms (scikit-learn) there (bench/gui_responsiveness.py; 84.5 ms longest stall with
# them loaded here, behind the start-up screen).
TRAINING_MODULES = ("transfer_gui.core.training.engine", "transfer_gui.core.crossval",
                    "transfer_gui.core.features", "sklearn.model_selection", "sklearn.metrics")


def preload_training_modules() -> None:
    import importlib

    for name in TRAINING_MODULES:
        importlib.import_module(name)
    freeze_long_lived_objects()


def freeze_long_lived_objects() -> None:
    """Take the objects made so far (the modules, the main window) out of the garbage
    collector's full passes: they live as long as the app, and a full pass over them holds every
    thread, the GUI's too (a 360 ms pause measured while scanning 100,000 images; gc.freeze)."""
    import gc

    gc.collect()
    gc.freeze()


_GUI_THREAD_GC: list = []


def collect_garbage_on_gui_thread():
    """Turn off the automatic garbage collector and collect on a GUI-thread timer instead
    (pyqtgraph's GarbageCollector, once a second). A collection started in a worker thread can
    delete a Qt object there whose destructor waits for the interpreter lock while the GUI thread,
    holding that lock, waits for Qt's lock on the same object: the app froze so in a Compare run
    (the worker's gc.collect() against a timer's slot, 2026-12-05). Returns the collector."""
    if not _GUI_THREAD_GC:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _GUI_THREAD_GC.append(GarbageCollector(interval=1.0))
    return _GUI_THREAD_GC[0]


def stop_collecting_on_gui_thread() -> None:
    """Back to the automatic garbage collector (tests end each Qt test so)."""
    import gc

    while _GUI_THREAD_GC:
        _GUI_THREAD_GC.pop().timer.stop()
    gc.enable()


def run_app(argv: Optional[Sequence[str]] = None, project: Optional[str] = None) -> int:
    """The event loop of the desktop app; `project` is a file the user opened the app with.

    A start-up screen shows at once; PyTorch and the pages load behind it (seconds on a laptop,
    where the window would otherwise appear only after them).
    """
    tune_memory_allocator()
    app = create_app(argv)
    collect_garbage_on_gui_thread()
    from .splash import StartupSplash

    splash = StartupSplash(APP_ICON)
    splash.show_now("Loading PyTorch...")
    import torch  # noqa: F401  (the longest part of the start)

    splash.step("Loading the training tools...")
    preload_training_modules()
    splash.step("Opening the main window...")
    window = open_main_window(project)  # kept alive for the event loop
    freeze_long_lived_objects()
    splash.finish(window)
    return app.exec()
