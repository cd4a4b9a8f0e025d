"""The whole app driven like a user: folder -> Lite0 -> feature extraction -> train -> results."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtCore import QThread  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from synthetic import make_color_dataset  # noqa: E402
from ui_helpers import forget_unsaved_runs, reopened  # noqa: E402
from transfer_gui.core.jobs.events import EpochEnded  # noqa: E402
from transfer_gui.ui.main_window import MainWindow  # noqa: E402

DATA_STEP, MODEL_STEP, SETTINGS_STEP, TRAIN_STEP, RESULTS_STEP = range(5)


@pytest.fixture
def window(qtbot, tmp_path, settings):
    win = MainWindow(settings, runs_root=tmp_path / "runs")
    qtbot.addWidget(win, before_close_func=forget_unsaved_runs)
    win.show()
    yield win
    for page in win.pages:
        page.shutdown()


@pytest.fixture
def dataset(tmp_path):
    return make_color_dataset(tmp_path / "data", classes=("red", "blue"), per_class=10, size=64,
                              layout="splits", ext=".jpg")


def open_dataset(qtbot, window, folder):
    window.data_page.open_folder(str(folder))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    assert window.next_button.isEnabled()


def configure(window, mode="feature_extraction", epochs=3, **settings):
    window.go_to(MODEL_STEP)
    window.model_page.mode_buttons[mode].setChecked(True)
    assert window.state.backbone == "efficientnet_lite0" and window.state.mode == mode
    window.go_to(SETTINGS_STEP)
    window.settings_page.epochs.setValue(epochs)
    for name, value in settings.items():
        window.state.set_setting(name, value)
    window.go_to(TRAIN_STEP)
    assert window.stack.currentWidget() is window.train_page


def test_wizard_end_to_end_feature_extraction(qtbot, window, dataset):
    assert not window.next_button.isEnabled() and "folder" in window.reason.text()
    open_dataset(qtbot, window, dataset)
    configure(window, epochs=3, early_stopping_patience=0)
    page = window.train_page
    with qtbot.waitSignal(page.trainingFinished, timeout=120_000) as finished:
        page.start_button.click()
    result = finished.args[0]
    assert result.best is not None and not result.cancelled
    page.plots.flush()
    for curve in ("train_loss", "val_loss", "train_acc", "val_acc"):
        assert page.plots.points(curve) == 3, curve
    assert page.plots.points("batch_loss") >= 3
    assert window.next_button.isEnabled()
    window.go_to(RESULTS_STEP)
    assert window.stack.currentWidget() is window.results_page
    val_size = len(window.state.dataset.split("val"))
    window.results_page.set_split("val")
    assert window.results_page.matrix.total() == val_size == 8
    assert (result.run_dir / "model.pt").is_file()
    window.go_to(RESULTS_STEP + 1)  # Predict, with the model just trained
    assert window.stack.currentWidget() is window.predict_page
    assert window.predict_page.model_path() == result.run_dir / "model.pt"
    window.open_compare()  # File > Compare runs: the run is listed
    assert window.compare_view.run_paths() == [result.run_dir]


def test_stop_mid_training_keeps_the_best_model(qtbot, window, dataset):
    open_dataset(qtbot, window, dataset)
    configure(window, mode="fine_tuning", epochs=50, early_stopping_patience=0, batch_size=4)
    page = window.train_page
    epochs = []
    page.runner.event.connect(lambda e: isinstance(e, EpochEnded) and epochs.append(e.metrics))
    page.start_button.click()
    qtbot.waitUntil(lambda: len(epochs) >= 1, timeout=120_000)
    with qtbot.waitSignal(page.trainingFinished, timeout=60_000) as finished:
        page.stop_button.click()
    result = finished.args[0]
    assert result.cancelled and result.best is not None
    assert page.stop_latency is not None and page.stop_latency < 2.0
    assert (result.run_dir / "model.pt").is_file()
    assert result.evaluation is not None  # the best model is scored after Stop
    assert page.start_button.isEnabled() and not page.stop_button.isEnabled()


def test_close_during_training_asks_then_stops_cleanly(qtbot, window, dataset, monkeypatch):
    open_dataset(qtbot, window, dataset)
    configure(window, mode="fine_tuning", epochs=50, early_stopping_patience=0, batch_size=4)
    page = window.train_page
    page.start_button.click()
    qtbot.waitUntil(lambda: page.plots.series["val_acc"].n >= 1, timeout=120_000)  # one epoch
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No)
    window.close()
    assert asked and window.isVisible() and window.state.training  # "No" keeps it running
    answers = iter([QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Discard])
    questions = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: questions.append(a[2]) or next(answers))
    window.close()
    # "Stop training and close?" -> Yes, then the stopped run is an unsaved run -> Discard
    assert len(questions) == 2 and "not saved" in questions[1]
    assert not window.isVisible()
    assert not page.runner.is_running() or page.runner._thread.wait(1)
    for thread in window.findChildren(QThread):
        assert not thread.isRunning()
    run_dirs = list((window.train_page.runs_root).iterdir())
    assert run_dirs and (run_dirs[0] / "model.pt").is_file()


def test_missing_weights_failure_shows_a_dialog_and_the_app_stays_usable(qtbot, window, dataset,
                                                                         monkeypatch):
    from transfer_gui.core.errors import WeightsError
    from transfer_gui.core.models import registry

    open_dataset(qtbot, window, dataset)
    configure(window, epochs=2)

    def missing(*args, **kwargs):
        raise WeightsError("The bundled weights of EfficientNet-Lite0 are missing (test).")

    monkeypatch.setattr(registry, "pretrained_weights_file", missing)
    page = window.train_page
    with qtbot.waitSignal(page.runner.failed, timeout=30_000):
        page.start_button.click()
    dialog = page.findChild(QMessageBox, "trainingFailedDialog")
    assert dialog is not None and "missing" in dialog.text()
    dialog.close()
    assert page.start_button.isEnabled() and not window.state.training
    monkeypatch.undo()
    with qtbot.waitSignal(page.trainingFinished, timeout=120_000) as finished:
        page.start_button.click()
    assert finished.args[0].best is not None


def test_choices_and_geometry_persist(qtbot, tmp_path, settings):
    first = MainWindow(settings, runs_root=tmp_path / "r")
    qtbot.addWidget(first, before_close_func=forget_unsaved_runs)
    first.show()
    first.state.set_mode("fine_tuning")
    first.resize(first.width(), 520)  # offscreen, restore clamps widths to its 800 px screen
    first.close()
    second = MainWindow(reopened(settings), runs_root=tmp_path / "r")
    qtbot.addWidget(second, before_close_func=forget_unsaved_runs)
    assert second.state.mode == "fine_tuning"
    assert second.model_page.mode_buttons["fine_tuning"].isChecked()
    assert second.height() == 520
    for page in second.pages:
        page.shutdown()


def _qt_internal(widget) -> bool:
    """Parts Qt builds itself (header views, corner buttons, combo-box popups, menu extension)."""
    from PySide6.QtWidgets import QComboBox, QHeaderView

    if isinstance(widget, QHeaderView) or widget.objectName().startswith("qt_"):
        return True
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QComboBox) or parent.objectName().startswith("qt_"):
            return True
        parent = parent.parentWidget()
    return False


def test_every_control_has_a_tooltip(window):
    from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSpinBox,
                                   QComboBox)

    missing = []
    for kind in (QAbstractButton, QAbstractSpinBox, QComboBox, QAbstractItemView):
        for widget in window.findChildren(kind):
            if not widget.toolTip() and not _qt_internal(widget):
                missing.append(f"{type(widget).__name__} {widget.objectName()} "
                               f"{getattr(widget, 'text', lambda: '')()}")
    assert not missing, missing
