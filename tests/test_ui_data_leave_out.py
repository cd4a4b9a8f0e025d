"""Data page (issue 12.11, 12.21): an empty class folder offers "Leave out empty classes",
Rescan scans the same folder again, and the first-run hint is dismissed for good."""

from __future__ import annotations

import pytest

from synthetic import make_color_dataset
from transfer_gui.ui.data.data_page import DataPage
from transfer_gui.ui.state import AppState
from ui_helpers import reopened

TIMEOUT = 20_000


@pytest.fixture
def page(qtbot, settings):
    page = DataPage(AppState(), settings)
    qtbot.addWidget(page)
    page.show()
    yield page
    page.shutdown()


def test_empty_class_offers_to_leave_it_out(page, qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "d", per_class=6)
    (root / "yellow").mkdir()
    page.open_folder(str(root))
    qtbot.waitUntil(lambda: page.error_label.text() != "", timeout=TIMEOUT)
    assert "class 'yellow' has no usable images" in page.error_label.text().lower()
    assert page.leave_out_button.isVisible() and "yellow" in page.leave_out_button.toolTip()
    assert page.state.dataset is None and page.blocker()
    page.leave_out_button.click()
    qtbot.waitUntil(lambda: page.state.dataset is not None, timeout=TIMEOUT)
    scan = page.state.dataset
    assert scan.class_names == ["blue", "green", "red"] and scan.left_out_classes == ["yellow"]
    assert page.blocker() == "" and page.error_label.isHidden()
    assert page.leave_out_button.isHidden()
    assert "left out the empty class 'yellow'" in page.warnings_label.text().lower()
    assert page.state.config().leave_out_empty_classes  # training scans the same way


def test_rescan_sees_new_images_and_keeps_leaving_out(page, qtbot, tmp_path):
    root = make_color_dataset(tmp_path / "d", per_class=6)
    (root / "yellow").mkdir()
    assert not page.rescan_button.isEnabled()  # nothing open yet
    page.open_folder(str(root), leave_out_empty=True)
    qtbot.waitUntil(lambda: page.state.dataset is not None, timeout=TIMEOUT)
    assert page.rescan_button.isEnabled()
    make_color_dataset(root, classes=("yellow",), per_class=6)  # the user fills the folder
    page.rescan_button.click()
    qtbot.waitUntil(lambda: page.state.dataset is not None
                    and "yellow" in page.state.dataset.class_names, timeout=TIMEOUT)
    assert page.state.dataset.left_out_classes == []
    assert page.class_table.rowCount() == 4
    # A new, different folder starts without the leave-out choice.
    other = make_color_dataset(tmp_path / "e", per_class=6)
    (other / "empty").mkdir()
    page.open_folder(str(other))
    qtbot.waitUntil(lambda: page.error_label.text() != "", timeout=TIMEOUT)
    assert page.leave_out_button.isVisible()


def test_first_run_hint_is_dismissed_for_good(qtbot, settings):
    first = DataPage(AppState(), settings)
    qtbot.addWidget(first)
    first.show()
    hint = first.first_run_hint
    assert hint.isVisible()
    with qtbot.waitSignal(hint.guideRequested):
        hint.open_button.click()
    hint.dismiss_button.click()
    assert hint.isHidden()
    again = DataPage(AppState(), reopened(settings))
    qtbot.addWidget(again)
    again.show()
    assert again.first_run_hint.isHidden()
    first.shutdown()
    again.shutdown()
