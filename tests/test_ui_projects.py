"""File > Save / Open: a reopened project shows its results, curves and CAM panel without
retraining; a moved dataset is asked for; unsaved runs are not lost on close."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

from synthetic import make_color_dataset  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.run_result import load_run_result  # noqa: E402
from transfer_gui.core.training.config import TrainConfig  # noqa: E402
from transfer_gui.core.training.engine import train_run  # noqa: E402


@pytest.fixture
def make_window(make_window, tmp_path):
    """Here every window shares one settings file (recent projects) and one runs folder."""
    return lambda: make_window(runs_root=tmp_path / "runs", settings="s.ini")


@pytest.fixture
def finished_run(tiny_backbone, tmp_path):
    data = make_color_dataset(tmp_path / "project" / "data", per_class=12)
    config = TrainConfig.for_mode(str(data), backbone="tiny_test", epochs=3, batch_size=8)
    return data, train_run(config, tmp_path / "runs" / "run1", feature_cache=FeatureCache())


def add_run(window, result):
    window.state.set_dataset(str(result.config.data_dir), result.dataset)
    window.train_page.trainingFinished.emit(result)  # as when training ends


def test_run_result_round_trips_from_its_folder(finished_run):
    _, result = finished_run
    again = load_run_result(result.run_dir)
    assert again.history == result.history and again.best == result.best
    assert again.evaluation == result.evaluation
    assert [s.path for s in again.dataset.samples] == [s.path for s in result.dataset.samples]


def test_save_then_open_restores_results_curves_and_cam(qtbot, make_window, finished_run, tmp_path):
    data, result = finished_run
    first = make_window()
    add_run(first, result)
    assert first.projects.dirty
    path = tmp_path / "project" / "colors.tgproj"
    assert first.projects.save_to(path) and not first.projects.dirty

    second = make_window()
    assert second.projects.open(str(path))
    qtbot.waitUntil(lambda: second.state.result is not None, timeout=10_000)
    restored = second.state.result
    assert restored.evaluation == result.evaluation and restored.best == result.best
    second.train_page.plots.flush()
    assert second.train_page.plots.points("val_acc") == len(result.history)
    second.results_page.set_split("val")
    assert second.results_page.matrix.total() == len(result.dataset.split("val"))
    second.open_in_cam(result.dataset.split("val")[0].path)
    qtbot.waitUntil(lambda: second.cam_panel.current is not None, timeout=20_000)
    assert str(path) in second.projects.recent()


def test_reopening_scans_the_dataset_once_off_the_gui_thread(qtbot, make_window, finished_run,
                                                           tmp_path, monkeypatch):
    """The run's result is read with the Data page's scan, in the background: one scan."""
    import threading

    import transfer_gui.core.data as data_module
    import transfer_gui.core.jobs.scan as scan_job_module

    data, result = finished_run
    first = make_window()
    add_run(first, result)
    path = tmp_path / "project" / "colors.tgproj"
    assert first.projects.save_to(path)

    scans = []
    real = data_module.scan_dataset

    def counted(*args, **kwargs):
        scans.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(data_module, "scan_dataset", counted)  # Run.dataset() imports it here
    monkeypatch.setattr(scan_job_module, "scan_dataset", counted)  # the Data page's job
    second = make_window()
    assert second.projects.open(str(path))
    qtbot.waitUntil(lambda: second.stack.currentWidget() is second.results_page, timeout=20_000)
    assert second.state.result.evaluation == result.evaluation
    assert second.state.result.dataset is second.state.dataset  # the Data page's scan
    assert scans == [False], scans  # once, and not on the GUI thread


def test_moved_dataset_is_asked_for(qtbot, make_window, finished_run, tmp_path, monkeypatch):
    data, result = finished_run
    first = make_window()
    add_run(first, result)
    path = tmp_path / "elsewhere" / "p.tgproj"
    assert first.projects.save_to(path)
    moved = tmp_path / "moved_data"
    shutil.move(str(data), moved)
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(moved))
    second = make_window()
    assert second.projects.open(str(path))
    qtbot.waitUntil(lambda: second.state.dataset is not None, timeout=10_000)
    assert second.state.data_dir == str(moved.resolve())


def test_closing_with_unsaved_runs_asks(qtbot, make_window, finished_run, monkeypatch, tmp_path):
    _, result = finished_run
    window = make_window()
    window.show()
    add_run(window, result)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    window.close()
    assert window.isVisible()  # Cancel keeps the window and the runs
    target = tmp_path / "saved.tgproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Save)
    window.close()
    assert not window.isVisible() and target.is_file()


def test_a_corrupt_project_shows_an_error_and_changes_nothing(make_window, tmp_path):
    bad = tmp_path / "bad.tgproj"
    bad.write_bytes(b"not a zip")
    window = make_window()
    assert not window.projects.open(str(bad))
    shown = window.findChild(QMessageBox, "projectError")
    assert shown is not None and "bad.tgproj" in shown.text()
    assert window.state.result is None and window.projects.path is None
