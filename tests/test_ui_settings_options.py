"""Settings page: unfreeze None/0/N, batch norm, stay-close, probe regularisation, per-mode rows."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from transfer_gui.core.heads import L2_GRID  # noqa: E402
from transfer_gui.ui.settings.settings_page import SettingsPage  # noqa: E402
from transfer_gui.ui.state import AppState  # noqa: E402


@pytest.fixture
def page(qtbot, tmp_path):
    state = AppState()
    state.data_dir = str(tmp_path)
    widget = SettingsPage(state)
    qtbot.addWidget(widget)
    return widget


def reload(page, **settings) -> None:
    """Settings changed elsewhere (a reopened project, another page): the page shows them."""
    page.state.settings = dict(settings)
    page.state.choicesChanged.emit()


def test_unfreeze_all_zero_and_n_round_trip(page):
    state, box = page.state, page.unfreeze
    state.set_mode("fine_tuning")
    assert state.config().unfreeze_stages is None
    assert box.value() == box.minimum() and box.text() == "All stages"
    box.setValue(0)  # the new layer only, as in core and the CLI
    assert state.settings == {"unfreeze_stages": 0} and state.config().unfreeze_stages == 0
    assert box.text() == "0"
    box.setValue(2)
    assert state.config().unfreeze_stages == 2
    box.setValue(box.minimum())
    assert state.config().unfreeze_stages is None
    # Model -> widget: each value shows as itself, and survives the page reloading.
    reload(page, unfreeze_stages=0)
    assert box.value() == 0 and box.text() == "0" and state.config().unfreeze_stages == 0
    reload(page, unfreeze_stages=3)
    assert box.value() == 3
    reload(page, unfreeze_stages=None)
    assert box.text() == "All stages"
    reload(page, unfreeze_stages=0)
    page.restore.click()
    assert state.settings == {} and box.text() == "All stages"


def test_a_new_page_shows_saved_zero_as_zero(qtbot, tmp_path):
    state = AppState()
    state.data_dir, state.mode = str(tmp_path), "fine_tuning"
    state.settings = {"unfreeze_stages": 0}
    page = SettingsPage(state)
    qtbot.addWidget(page)
    assert page.unfreeze.value() == 0 and state.settings == {"unfreeze_stages": 0}


def test_new_fine_tuning_options_reach_the_config(page):
    state = page.state
    state.set_mode("fine_tuning")
    config = state.config()
    assert (config.batch_norm, config.stay_close, config.head_l2) == ("frozen", 0.0, None)
    assert page.batch_norm.currentText() == "Keep pretrained statistics (recommended)"
    assert page.stay_close.text() == "Off"
    assert [page.batch_norm.itemData(i) for i in range(page.batch_norm.count())] == [
        "frozen", "reestimate", "train"]
    page.batch_norm.setCurrentIndex(page.batch_norm.findData("reestimate"))
    page.stay_close.setValue(0.01)
    page.head_l2.setCurrentIndex(page.head_l2.findData(1e-3))
    config = state.config()
    assert config.batch_norm == "reestimate" and config.stay_close == pytest.approx(0.01)
    assert config.head_l2 == pytest.approx(1e-3)
    page.head_l2.setCurrentIndex(0)
    assert page.head_l2.currentText().startswith("Automatic") and state.config().head_l2 is None
    reload(page, batch_norm="train", stay_close=0.5, head_l2=0.02)  # 0.02 is not in the list
    assert page.batch_norm.currentData() == "train" and page.stay_close.value() == 0.5
    assert page.head_l2.currentData() == pytest.approx(0.02)
    assert page.head_l2.count() == len(L2_GRID) + 2
    page.restore.click()
    assert page.batch_norm.currentData() == "frozen" and page.stay_close.value() == 0.0
    assert page.head_l2.currentIndex() == 0


def test_feature_extraction_hides_what_does_not_apply(page):
    state = page.state
    basic, adv = page.basic_form, page.adv_form
    not_for_probe = [(basic, page.learning_rate), (basic, page.batch_size),
                     (adv, page.optimizer), (adv, page.weight_decay),
                     (adv, page.label_smoothing), (adv, page.patience)]
    fine_tuning_only = [page.unfreeze, page.warmup, page.backbone_lr, page.batch_norm,
                        page.stay_close]
    assert state.mode == "feature_extraction"
    assert not any(form.isRowVisible(w) for form, w in not_for_probe)
    assert not any(adv.isRowVisible(w) for w in fine_tuning_only)
    assert basic.isRowVisible(page.epochs) and basic.isRowVisible(page.augmentation)
    assert adv.isRowVisible(page.views) and adv.isRowVisible(page.head_l2)
    assert adv.isRowVisible(page.class_weights) and adv.isRowVisible(page.seed)
    assert "10 fitting steps" in page.epochs.toolTip()
    state.set_mode("fine_tuning")
    assert all(form.isRowVisible(w) for form, w in not_for_probe)
    assert all(adv.isRowVisible(w) for w in fine_tuning_only)
    assert adv.isRowVisible(page.head_l2) and not adv.isRowVisible(page.views)
    assert "passes over the training images" in page.epochs.toolTip()
    state.set_mode("from_scratch")
    assert all(form.isRowVisible(w) for form, w in not_for_probe)
    assert not adv.isRowVisible(page.head_l2) and not adv.isRowVisible(page.batch_norm)


def test_new_controls_have_a_one_sentence_tooltip(page):
    for widget in (page.unfreeze, page.batch_norm, page.stay_close, page.head_l2, page.epochs):
        tip = widget.toolTip()
        assert tip and tip.endswith((".", ")")) and tip.count(". ") == 0, tip
