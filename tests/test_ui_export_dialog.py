"""Export model dialog: exports off the GUI thread and shows the check's verdict."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import importlib.util  # noqa: E402
import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)

from transfer_gui.core.export import run as export_module  # noqa: E402
from transfer_gui.core.export.check import CheckResult, ExportCheckError  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.training.config import TrainConfig  # noqa: E402
from transfer_gui.core.training.engine import train_run  # noqa: E402
from transfer_gui.core.jobs import export as export_job_module  # noqa: E402
from transfer_gui.ui.export.export_dialog import ExportDialog  # noqa: E402


@pytest.fixture
def trained(tiny_backbone, color_dataset, tmp_path):
    config = TrainConfig.for_mode(str(color_dataset), backbone="tiny_test", epochs=2, batch_size=8)
    return train_run(config, tmp_path / "run", feature_cache=FeatureCache()).run_dir


@pytest.fixture
def dialog(qtbot, trained):
    d = ExportDialog(trained)
    qtbot.addWidget(d)
    d.show()
    yield d
    d.runner.shutdown()


def export(qtbot, dialog, fmt, out):
    dialog.buttons[fmt].setChecked(True)
    dialog.path_edit.setText(str(out))
    with qtbot.waitSignal(dialog.runner.stopped, timeout=60_000):
        dialog.export_button.click()


def test_torchscript_export_is_verified_off_the_gui_thread(qtbot, dialog, tmp_path, monkeypatch):
    threads = []
    real = export_job_module.export_run
    monkeypatch.setattr(export_job_module, "export_run",
                        lambda *a, **k: threads.append(threading.get_ident()) or real(*a, **k))
    assert dialog.path_edit.text().endswith("run.pt")  # a default next to the run
    export(qtbot, dialog, "torchscript", tmp_path / "out" / "model.pt")
    assert threads and threading.get_ident() not in threads
    assert dialog.result.check.passed and (tmp_path / "out" / "model.pt").is_file()
    assert dialog.status.text().startswith("✔ Verified") and "passed" in dialog.status.text()
    assert dialog.show_button.isEnabled() and dialog.export_button.isEnabled()


def test_bundle_export_writes_the_folder(qtbot, dialog, tmp_path):
    dialog.buttons["bundle"].setChecked(True)
    assert dialog.path_edit.text().endswith("run_bundle")
    export(qtbot, dialog, "bundle", tmp_path / "bundle")
    assert dialog.result.check.passed
    labels = json.loads((tmp_path / "bundle" / "labels.json").read_text())
    assert labels and (tmp_path / "bundle" / "predict.py").is_file()


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs onnxruntime")
def test_onnx_export_is_verified_with_onnxruntime(qtbot, dialog, tmp_path):
    export(qtbot, dialog, "onnx", tmp_path / "m.onnx")
    assert dialog.result.check.passed and "onnx check passed" in dialog.status.text()


def test_a_failed_check_is_an_error(qtbot, dialog, tmp_path, monkeypatch):
    def failing_check(loaded, fmt, path, valset, **kwargs):
        result = CheckResult(fmt, str(path), 8, 0.3, ["a.png: in-app red, exported blue"])
        raise ExportCheckError("torchscript check FAILED: differs", result)

    monkeypatch.setattr(export_module, "check_export", failing_check)
    export(qtbot, dialog, "torchscript", tmp_path / "bad.pt")
    assert dialog.result is None and not dialog.show_button.isEnabled()
    assert dialog.status.text().startswith("✘ Export failed") and "FAILED" in dialog.status.text()
    assert "b3261e" in dialog.status.styleSheet()  # shown as an error


def test_an_unchecked_onnx_file_says_not_verified(qtbot, dialog, tmp_path, monkeypatch):
    monkeypatch.setattr(export_module, "write_onnx", lambda loaded, path: path.write_bytes(b"x")
                        or path)
    monkeypatch.setattr(export_module, "check_export", lambda loaded, fmt, path, valset, **k:
                        CheckResult(fmt, str(path), 0, float("nan"), passed=False, skipped=True,
                                    message="onnx check skipped: onnxruntime not installed"))
    dialog.buttons["onnx"].setEnabled(True)
    export(qtbot, dialog, "onnx", tmp_path / "m.onnx")
    assert dialog.status.text().startswith("⚠ Written but NOT verified")


def test_closing_during_an_export_stops_it(qtbot, dialog, tmp_path, monkeypatch):
    started = threading.Event()

    def slow_check(loaded, fmt, path, valset, progress, cancel, **kwargs):
        started.set()
        while not cancel.cancelled:
            time.sleep(0.01)
        cancel.raise_if_cancelled()

    monkeypatch.setattr(export_module, "check_export", slow_check)
    dialog.path_edit.setText(str(tmp_path / "m.pt"))
    dialog.export_button.click()
    qtbot.waitUntil(started.is_set, timeout=30_000)
    thread = dialog.runner._thread
    dialog.reject()  # cancels and waits: the slow check returns only once cancelled
    assert thread.isFinished() and not dialog.isVisible()


def test_results_page_and_file_menu_open_the_dialog_for_the_selected_run(qtbot, tmp_path,
                                                                          trained, settings):
    from transfer_gui.core.run_result import load_run_result
    from transfer_gui.ui.main_window import MainWindow
    from ui_helpers import forget_unsaved_runs

    window = MainWindow(settings, runs_root=tmp_path / "runs")
    qtbot.addWidget(window, before_close_func=forget_unsaved_runs)
    assert not window.export_action.isEnabled()
    assert not window.results_page.export_button.isEnabled()
    window.state.set_result(load_run_result(trained))
    assert window.export_action.isEnabled() and window.results_page.export_button.isEnabled()
    window.results_page.export_button.click()
    dialog = window.export_dialog
    assert dialog is not None and dialog.isVisible() and dialog.run_dir == trained
    dialog.reject()
    window.export_action.trigger()
    assert window.export_dialog is not dialog and window.export_dialog.isVisible()
    window.export_dialog.reject()
