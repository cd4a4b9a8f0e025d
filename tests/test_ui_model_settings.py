"""Model and Settings pages: backbone choice, weights download/import, mode, settings binding."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from transfer_gui.ui.model.model_page import ModelPage  # noqa: E402
from transfer_gui.ui.settings.settings_page import SettingsPage, detected_devices  # noqa: E402
from transfer_gui.ui.state import AppState  # noqa: E402
from weights_server import served_backbone  # noqa: E402


@pytest.fixture
def hub_backbone(tmp_path):
    """A downloadable backbone served by a local HTTP server (registered before the page)."""
    with served_backbone(tmp_path / "www", "tinyui") as (spec, _, published):
        yield spec, published


def make_model_page(qtbot):
    state = AppState()
    page = ModelPage(state)
    qtbot.addWidget(page)
    return state, page


def row_of(page, name):
    return next(i for i, s in enumerate(page.specs) if s.name == name)


def test_lite0_is_preselected_and_ready(qtbot):
    state, page = make_model_page(qtbot)
    assert state.backbone == "efficientnet_lite0" and page.blocker() == ""
    row = row_of(page, "efficientnet_lite0")
    assert page.table.item(row, 5).text() == "bundled"
    assert not page.download_button.isEnabled()
    assert page.table.item(row_of(page, "vgg16"), 5).text() == "download needed (528 MB)"
    page.shutdown()


def test_missing_weights_block_next_except_from_scratch(qtbot):
    state, page = make_model_page(qtbot)
    page.table.selectRow(row_of(page, "resnet18"))
    assert state.backbone == "resnet18"
    assert "Download or import" in page.blocker() and page.download_button.isEnabled()
    page.mode_buttons["from_scratch"].setChecked(True)
    assert state.mode == "from_scratch" and page.blocker() == ""
    page.shutdown()


def test_download_shows_progress_then_marks_the_backbone_ready(qtbot, hub_backbone):
    spec, _ = hub_backbone
    state, page = make_model_page(qtbot)
    page.table.selectRow(row_of(page, spec.name))
    reports = []
    page.runner.progress.connect(reports.append)
    with qtbot.waitSignal(page.runner.finished, timeout=20_000):
        page.download_button.click()
    assert reports and reports[-1].fraction == 1.0
    assert page.table.item(row_of(page, spec.name), 5).text() == "downloaded"
    assert page.blocker() == ""
    page.shutdown()


def test_import_of_a_wrong_file_shows_an_error_and_keeps_going(qtbot, hub_backbone, tmp_path,
                                                               monkeypatch):
    spec, published = hub_backbone
    state, page = make_model_page(qtbot)
    page.table.selectRow(row_of(page, spec.name))
    wrong = tmp_path / "wrong.pth"
    torch.save({"x": torch.zeros(1)}, wrong)
    with qtbot.waitSignal(page.runner.failed, timeout=10_000):
        page.import_file(str(wrong))
    dialog = next(w for w in page.findChildren(QMessageBox))
    assert "not the expected weights" in dialog.text()
    with qtbot.waitSignal(page.runner.finished, timeout=10_000):
        page.import_file(str(published))
    assert page.blocker() == ""
    page.shutdown()


def test_settings_show_mode_defaults_and_record_overrides(qtbot, tmp_path):
    state = AppState()
    state.data_dir = str(tmp_path)
    page = SettingsPage(state)
    qtbot.addWidget(page)
    assert page.epochs.value() == 30 and page.augmentation.currentData() == "none"
    page.epochs.setValue(7)
    page.optimizer.setCurrentIndex(page.optimizer.findData("sgd"))
    assert state.settings == {"epochs": 7, "optimizer": "sgd"}
    assert state.config().epochs == 7 and state.config().optimizer == "sgd"
    state.set_mode("fine_tuning")  # another mode: its own defaults
    assert page.epochs.value() == 10 and page.augmentation.currentData() == "light"
    assert page.adv_form.isRowVisible(page.warmup) and not page.adv_form.isRowVisible(page.views)
    page.warmup.setValue(2)
    page.restore.click()
    assert state.settings == {} and page.warmup.value() == 0


def test_device_choice_lists_what_was_detected():
    devices = detected_devices()
    assert devices[0][0] == "auto" and ("cpu", "CPU") in devices
    if torch.cuda.is_available():
        assert any(value == "cuda" for value, _ in devices)
