"""The Settings page's "Find good settings for me" (issue 15): the window searches the Data page's
scan for the current backbone and mode, streams each trial into its table and curve, keeps the
settings the user changed, and "Use these settings" puts the choice on the Settings page, where
it can be changed; the next run's config.json keeps the search table. Feature extraction
chooses the probe's regularisation by cross-validation. Closing the window stops a search."""

from __future__ import annotations

import json

import pytest
import torchvision  # noqa: F401 (its first import takes seconds)

from synthetic import make_color_dataset
from transfer_gui.core.auto import COMPLETE
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.jobs.state import RecordingState
from transfer_gui.core.jobs.train import train_job
from transfer_gui.core.run import AUTO_SETTINGS, Run

TIMEOUT = 120_000


@pytest.fixture
def page(qtbot, tmp_path, tiny_backbone, monkeypatch):
    """The Settings page over the tiny test backbone and a 3-class colour dataset; features are
    kept in memory, and trials' run folders in this test's temp folder."""
    import tempfile

    from transfer_gui.ui.settings.settings_page import SettingsPage
    from transfer_gui.ui.state import AppState

    cache = FeatureCache()
    monkeypatch.setattr("transfer_gui.core.jobs.auto_settings.default_feature_cache",
                        lambda: cache)
    (tmp_path / "temp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    state = AppState()
    page = SettingsPage(state)
    qtbot.addWidget(page)
    page.resize(1366, 768)
    page.show()
    state.set_backbone(tiny_backbone.name)
    yield page
    page.shutdown()


def with_dataset(page, tmp_path):
    root = make_color_dataset(tmp_path / "d", per_class=8)
    page.state.set_dataset(str(root), scan_dataset(root))
    return root


def searched(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: dialog.found is not None and not dialog.is_running(),
                    timeout=TIMEOUT)


def column(dialog, title: str) -> list[str]:
    headers = [dialog.table.horizontalHeaderItem(c).text()
               for c in range(dialog.table.columnCount())]
    col = headers.index(title)
    return [dialog.table.item(r, col).text() for r in range(dialog.table.rowCount())]


def test_fine_tuning_search_streams_trials_and_use_fills_the_settings(page, qtbot, tmp_path):
    state = page.state
    assert not page.auto_button.isEnabled() and page.open_auto_settings() is None
    with_dataset(page, tmp_path)
    assert page.auto_button.isEnabled()
    state.set_mode("fine_tuning")
    for name, value in (("epochs", 2), ("batch_size", 8), ("head_l2", 1e-3)):
        state.set_setting(name, value)  # the user's: kept, not searched
    dialog = page.open_auto_settings()
    assert dialog.isVisible() and dialog.budget.isVisible()
    assert dialog.names == ("learning_rate", "backbone_lr_factor", "unfreeze_stages",
                            "augmentation")
    assert "epochs 2" in dialog.kept.text() and dialog.kept.isVisible()
    started, epochs = [], []
    dialog.runner.event.connect(lambda e: (started if type(e).__name__ == "TrialStarted"
                                           else epochs).append(e))
    dialog.start(max_trials=2)
    assert dialog.is_running() and not dialog.use_button.isEnabled()
    searched(qtbot, dialog)
    found = dialog.found
    assert len(found.trials) == 2 == dialog.table.rowCount() == len(dialog._curves)
    assert [e.number for e in started] == [0, 1]
    # The table's rows are the trials' settings and results, the chosen one marked.
    assert column(dialog, "Learning rate") == [f"{t.settings['learning_rate']:.1e}"
                                               for t in found.trials]
    assert column(dialog, "Val accuracy") == [f"{t.val_acc:.1%}" for t in found.trials]
    states = column(dialog, "State")
    assert states[found.best_trial].endswith("— chosen")
    # Each trial's curve: its epochs' validation accuracy, as streamed (epoch 0: the probe).
    for number, (_, xs, ys) in dialog._curves.items():
        curve = found.trials[number].curve
        assert xs == [row["epoch"] for row in curve] and ys == [row["val_acc"] for row in curve]
    assert f"Trial {found.best_trial + 1} chosen" in dialog.summary.text()
    assert dialog.use_button.isEnabled()
    assert found.fixed == {"epochs": 2} and found.config.batch_size == 8

    dialog.use()
    assert not dialog.isVisible()
    for name, value in found.chosen.items():
        assert state.settings[name] == value
    assert state.settings["epochs"] == 2  # the user's own stay
    assert page.learning_rate.value() == pytest.approx(found.chosen["learning_rate"])
    assert page.searched_note.isVisible() and "learning rate" in page.searched_note.text()
    # The next run keeps the search table in its config.json.
    notes = state.config_notes()
    assert notes[AUTO_SETTINGS]["best_trial"] == found.best_trial
    run = train_job(RecordingState(), state.config(), tmp_path / "run", True, state.dataset,
                    notes)
    kept = Run.open(run.run_dir).auto_settings()
    assert [t["number"] for t in kept["trials"]] == [0, 1]
    assert json.loads((run.run_dir / "config.json").read_text())["learning_rate"] == \
        pytest.approx(found.chosen["learning_rate"])
    # The user can override a chosen value; Restore defaults forgets the search.
    state.set_setting("learning_rate", 2e-3)
    assert state.config().learning_rate == 2e-3
    page.restore_defaults()
    assert state.config_notes() == {} and not page.searched_note.isVisible()


def test_feature_extraction_chooses_the_regularisation(page, qtbot, tmp_path):
    with_dataset(page, tmp_path)
    dialog = page.open_auto_settings()
    assert "cross-validation" in dialog.intro.text() and not dialog.budget.isVisible()
    dialog.start()
    searched(qtbot, dialog)
    found = dialog.found
    assert found.searched == ("head_l2",) and dialog.table.rowCount() == len(found.l2_accuracy)
    chosen = [r for r in range(dialog.table.rowCount())
              if dialog.table.item(r, 0).text().endswith("— chosen")]
    assert len(chosen) == 1
    dialog.use()
    assert page.state.settings["head_l2"] == found.chosen["head_l2"]
    # Searching again searches that value again (it is the search's, not the user's).
    dialog = page.open_auto_settings()
    assert dialog.fixed == [] and dialog._config().head_l2 is None


def test_a_search_for_another_backbone_is_not_applied(page, qtbot, tmp_path):
    with_dataset(page, tmp_path)
    dialog = page.open_auto_settings()
    dialog.start()
    searched(qtbot, dialog)
    page.state.set_backbone("efficientnet_lite0")
    dialog.use()
    assert "changed since this search" in dialog.summary.text()
    assert "head_l2" not in page.state.settings and page.state.config_notes() == {}
    assert page.open_auto_settings() is dialog  # opened again: the old search is not shown
    assert dialog.found is None and dialog.table.rowCount() == 0
    assert not dialog.use_button.isEnabled()


def test_closing_the_window_stops_the_search(page, qtbot, tmp_path):
    state = page.state
    with_dataset(page, tmp_path)
    state.set_mode("fine_tuning")
    state.set_setting("head_l2", 1e-3)
    dialog = page.open_auto_settings()
    dialog.start()  # 10 minutes' budget
    qtbot.waitUntil(lambda: dialog.table.rowCount() >= 1, timeout=TIMEOUT)
    dialog.reject()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=30_000)
    assert not dialog.isVisible()
    if dialog.found is not None:  # stopped within the first trial: nothing ran to the end
        assert all(t.state != COMPLETE or t.number == 0 for t in dialog.found.trials)
