"""Settings rows (issue 12.15): augmented views only with augmentation, mixed precision only
with CUDA, learning-rate arrows that multiply and divide."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from transfer_gui.ui.settings import settings_page  # noqa: E402
from transfer_gui.ui.settings.log_spin_box import log_step, plain_number  # noqa: E402
from transfer_gui.ui.settings.settings_page import SettingsPage  # noqa: E402
from transfer_gui.ui.state import AppState  # noqa: E402


def make_page(qtbot, tmp_path, mode="feature_extraction"):
    state = AppState()
    state.data_dir = str(tmp_path)
    state.set_mode(mode)
    page = SettingsPage(state)
    qtbot.addWidget(page)
    page.show_advanced.setChecked(True)
    return page


def test_augmented_views_only_with_augmentation(qtbot, tmp_path):
    page = make_page(qtbot, tmp_path)
    label = page.adv_form.labelForField(page.views)
    assert page.adv_form.isRowVisible(page.views)
    assert not page.views.isEnabled() and not label.isEnabled()
    assert "Choose an augmentation" in page.views.toolTip()
    page.augmentation.setCurrentIndex(page.augmentation.findData("light"))
    assert page.state.settings["augmentation"] == "light"
    assert page.views.isEnabled() and label.isEnabled()
    assert "Choose an augmentation" not in page.views.toolTip()
    page.augmentation.setCurrentIndex(page.augmentation.findData("none"))
    assert not page.views.isEnabled()


@pytest.mark.parametrize("cuda", [False, True])
def test_mixed_precision_only_with_cuda(qtbot, tmp_path, monkeypatch, cuda):
    monkeypatch.setattr(settings_page, "cuda_available", lambda: cuda)
    monkeypatch.setattr(settings_page, "detected_devices", lambda: [
        ("auto", "Automatic"), *([("cuda", "CUDA GPU: test")] if cuda else []), ("cpu", "CPU")])
    page = make_page(qtbot, tmp_path, "fine_tuning")
    assert page.adv_form.isRowVisible(page.mixed_precision) is cuda
    page.state.set_mode("from_scratch")  # reloading keeps it so
    assert page.adv_form.isRowVisible(page.mixed_precision) is cuda


def test_learning_rate_arrows_step_on_a_log_scale(qtbot, tmp_path):
    page = make_page(qtbot, tmp_path, "fine_tuning")
    box, state = page.learning_rate, page.state
    assert box.value() == pytest.approx(1e-3) and box.text() == "0.001"
    box.stepUp()
    assert state.settings["learning_rate"] == pytest.approx(1.25e-3) and box.text() == "0.00125"
    qtbot.keyClick(box, Qt.Key.Key_Up)
    assert box.value() == pytest.approx(1.6e-3)
    for _ in range(3):
        qtbot.keyClick(box, Qt.Key.Key_Down)
    assert box.value() == pytest.approx(8e-4) and box.text() == "0.0008"
    assert state.config().learning_rate == pytest.approx(8e-4)
    box.setValue(1e-6)  # the smallest allowed: down stays, up moves by x1.25
    box.stepDown()
    assert box.value() == pytest.approx(1e-6)
    box.stepUp()
    assert box.value() == pytest.approx(1.25e-6) and box.text() == "0.00000125"
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "0.003")  # typed values are kept as typed
    box.interpretText()
    assert box.value() == pytest.approx(3e-3)
    box.stepUp()
    assert box.value() == pytest.approx(3.2e-3)  # the next round number up


def test_log_step_walks_round_numbers():
    values, v = [], 1e-3
    for _ in range(10):
        v = log_step(v, 1)
        values.append(plain_number(v))
    assert values == ["0.00125", "0.0016", "0.002", "0.0025", "0.0032", "0.004", "0.005",
                      "0.0063", "0.008", "0.01"]
    assert log_step(0.003, -1) == pytest.approx(0.0025)
    assert all(1.2 < log_step(x, 1) / x < 1.3 for x in (1e-5, 1e-3, 0.25))
