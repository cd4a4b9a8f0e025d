"""Shared fixtures. Qt-free tests never import PySide6."""

from __future__ import annotations

import time

import pytest

from synthetic import make_color_dataset, tiny_spec
from transfer_gui.core.models import register_backbone, unregister_backbone
from transfer_gui.core.runtime import tune_memory_allocator

tune_memory_allocator()  # as the app's entry points do: 3x faster CPU forward passes


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    """Keep torch hub downloads and any user cache inside the test's temp folder."""
    home = tmp_path_factory.mktemp("torch_home")
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("TRANSFER_GUI_WEIGHTS_BASE_URL", raising=False)


@pytest.fixture(autouse=True)
def _garbage_on_gui_thread(request):
    """Qt tests collect garbage as the app does (ui/app.collect_garbage_on_gui_thread): on the
    GUI thread only, never in a worker thread; what a test leaves is collected there after it."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("qapp")
    import gc

    from transfer_gui.ui.app import collect_garbage_on_gui_thread, stop_collecting_on_gui_thread

    collect_garbage_on_gui_thread()
    yield
    gc.collect()
    stop_collecting_on_gui_thread()


UNANSWERED_DIALOG_S = 60


@pytest.fixture(autouse=True)
def _no_unanswered_dialog(request):
    """Offscreen, a modal dialog that no test answers would wait forever (and the whole suite
    with it). In Qt tests a modal dialog left open for a minute is closed, and the test fails
    naming it."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("qapp")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

    opened: dict[int, float] = {}
    stuck: list[str] = []

    def check() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            opened.clear()
            return
        if time.monotonic() - opened.setdefault(id(box), time.monotonic()) > UNANSWERED_DIALOG_S:
            text = box.text() if isinstance(box, QMessageBox) else ""
            stuck.append(f"{type(box).__name__} {box.windowTitle()!r} {text!r}")
            if isinstance(box, QDialog):
                box.done(QDialog.DialogCode.Rejected)
            else:
                box.close()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(1000)
    yield
    timer.stop()
    assert not stuck, f"modal dialog(s) left unanswered for {UNANSWERED_DIALOG_S} s: {stuck}"


@pytest.fixture
def tiny_backbone(tmp_path_factory):
    """Registers the tiny test backbone for one test; yields its spec."""
    spec = tiny_spec(tmp_path_factory.mktemp("tiny") / "tiny.pth")
    register_backbone(spec)
    yield spec
    unregister_backbone(spec.name)


@pytest.fixture
def backbone_calls(monkeypatch):
    """Images that went through a backbone's feature pass, counted per batch."""
    from transfer_gui.core import features

    calls = []
    original = features.FeatureExtractor._forward
    monkeypatch.setattr(features.FeatureExtractor, "_forward",
                        lambda self, x: calls.append(len(x)) or original(self, x))
    return calls


@pytest.fixture
def color_dataset(tmp_path):
    """3 colour classes x 12 images, flat class-folder layout."""
    return make_color_dataset(tmp_path / "colors")



@pytest.fixture
def settings(tmp_path):
    """The app's settings in an ini file of this test's own (`tmp_path / "s.ini"`), as on a
    fresh install; an outputs folder chosen through them is forgotten after the test. A second
    QSettings on the same file: `ui_helpers.reopened(settings)`."""
    from PySide6.QtCore import QSettings

    from transfer_gui.core import output_folder

    yield QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    output_folder.set_output_folder(None)


@pytest.fixture
def qt_test_paths():
    """QStandardPaths in test mode: projects unpack under ~/.qttest, not the user's data folder."""
    from PySide6.QtCore import QStandardPaths

    QStandardPaths.setTestModeEnabled(True)
    yield
    QStandardPaths.setTestModeEnabled(False)


@pytest.fixture
def make_window(qtbot, tmp_path, qt_test_paths):
    """Make main windows: `make(runs_root=None, settings=None)`. By default each window gets its
    own runs folder and settings file (a fresh app, as after a restart); `settings` names a file
    in tmp_path to share, or is a QSettings (the `settings` fixture). They close without the
    unsaved-runs prompt and their pages and Compare window are shut down after the test."""
    from PySide6.QtCore import QSettings

    from transfer_gui.ui.main_window import MainWindow
    from ui_helpers import forget_unsaved_runs

    windows = []

    def make(runs_root=None, settings=None):
        n = len(windows) + 1
        if not isinstance(settings, QSettings):
            ini = tmp_path / (settings or f"s{n}.ini")
            settings = QSettings(str(ini), QSettings.Format.IniFormat)
        win = MainWindow(settings, runs_root=runs_root or tmp_path / f"runs{n}")
        qtbot.addWidget(win, before_close_func=forget_unsaved_runs)
        windows.append(win)
        return win

    yield make
    for win in windows:
        for page in win.pages:
            page.shutdown()
        if win.compare_view is not None:
            assert win.compare_view.shutdown()
