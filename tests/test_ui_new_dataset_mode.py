"""A new dataset opens with the recommended first try (issue 12.9), and each mode keeps the
user's own changes to its defaults (what Compare modes trains with, issue 12.6)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from synthetic import make_color_dataset  # noqa: E402
from transfer_gui.ui.state import AppState  # noqa: E402


def open_dataset(qtbot, window, folder):
    window.data_page.open_folder(str(folder))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)


def test_a_new_dataset_opens_with_feature_extraction(qtbot, make_window, tmp_path, settings):
    first = make_color_dataset(tmp_path / "first", per_class=6)
    second = make_color_dataset(tmp_path / "second", per_class=6)
    settings.setValue("choices/mode", "fine_tuning")  # the last session fine-tuned
    window = make_window(settings=settings)
    state, buttons = window.state, window.model_page.mode_buttons
    assert state.mode == "fine_tuning"  # remembered while no dataset is open
    open_dataset(qtbot, window, first)
    assert state.mode == "feature_extraction" and buttons["feature_extraction"].isChecked()
    assert window.settings_page.epochs.value() == 30  # feature extraction's recommended settings

    buttons["fine_tuning"].setChecked(True)
    window.settings_page.epochs.setValue(4)
    open_dataset(qtbot, window, first)  # the same folder again (a rescan): the choice stays
    assert state.mode == "fine_tuning" and state.settings == {"epochs": 4}
    open_dataset(qtbot, window, second)
    assert state.mode == "feature_extraction" and buttons["feature_extraction"].isChecked()
    assert state.settings == {} and state.settings_for("fine_tuning") == {}
    assert state.config().mode == "feature_extraction" and state.config().epochs == 30


def test_each_mode_keeps_its_own_changes(tmp_path):
    state = AppState()
    state.set_dataset(str(tmp_path), None)
    state.set_setting("epochs", 12)  # feature extraction
    state.set_mode("fine_tuning")
    assert state.settings == {} and state.config().epochs == 10  # its own defaults
    state.set_setting("epochs", 3)
    state.set_mode("from_scratch")
    assert state.config().epochs == 30
    assert state.settings_for("feature_extraction") == {"epochs": 12}
    assert state.settings_for("fine_tuning") == {"epochs": 3}
    assert [state.config(m).epochs for m in ("feature_extraction", "fine_tuning",
                                             "from_scratch")] == [12, 3, 30]
    state.set_mode("fine_tuning")  # chosen again: the user's change is back
    assert state.settings == {"epochs": 3} and state.config().epochs == 3
