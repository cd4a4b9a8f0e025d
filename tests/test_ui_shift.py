"""Predict page: "Compare with new images…" and "Recalibrate…" (issue 14, dataset shift)."""

from __future__ import annotations

import hashlib

import pytest

from synthetic import make_color_dataset
from transfer_gui.core.features import FeatureCache


@pytest.fixture
def tiny_run(tiny_backbone, tmp_path):
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    data = make_color_dataset(tmp_path / "colors", per_class=12)
    run = tmp_path / "run"
    train_run(TrainConfig.for_mode(str(data), "feature_extraction", backbone="tiny_test",
                                   epochs=3, batch_size=8), run, feature_cache=FeatureCache())
    return run, make_color_dataset(tmp_path / "new", per_class=8, seed=5)


def test_compare_then_recalibrate_from_the_dialog(qtbot, tiny_run, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from transfer_gui.ui.predict.shift_dialog import ShiftDialog

    run, new = tiny_run
    model_bytes = (run / "model.pt").read_bytes()
    dialog = ShiftDialog(run / "model.pt", str(new))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.is_running() and not dialog.recalibrate_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=60_000)
    assert dialog.report is not None and dialog.finding.text() == dialog.report.summary()
    assert dialog.table.rowCount() == 3 and dialog.table.item(0, 0).text() == "blue"
    assert "MMD" in dialog.details.text() and dialog.recalibrate_button.isEnabled()
    size = dialog.sizeHint().expandedTo(dialog.size())
    assert size.width() <= 1366 and size.height() <= 720  # fits a laptop screen

    out = tmp_path / "elsewhere" / "recalibrated.pt"
    answers = iter([str(run / "inside.pt"), str(out)])  # a run folder first: refused, asked again
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (next(answers), ""))
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: warnings.append(text))
    dialog._choose_and_recalibrate()
    assert len(warnings) == 1 and "only training writes" in warnings[0]
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=60_000)
    assert dialog.saved == str(out) and out.is_file(), dialog.status.text()
    assert "the original is unchanged" in dialog.recalibration.text()
    assert (run / "model.pt").read_bytes() == model_bytes and not (run / "inside.pt").exists()
    dialog.reject()


def test_predict_page_offers_the_comparison_only_with_a_model(make_window, tiny_run):
    win = make_window()
    button = win.predict_page.shift_button
    assert not button.isEnabled()
    run, new = tiny_run
    win.state.select_run(run)
    assert button.isEnabled()
    dialog = button.compare(str(new))
    assert dialog is not None and dialog.isVisible()
    win.predict_page.shutdown()  # the page closing stops the job and closes the dialog
    assert button.dialog is None and not dialog.isVisible()
    assert dialog.runner.shutdown(timeout_ms=0)  # its thread has ended
