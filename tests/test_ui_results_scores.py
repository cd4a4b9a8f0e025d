"""Results page: accuracy with its interval, balanced accuracy, the run's note, cross-validation."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses  # noqa: E402

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from synthetic import make_color_dataset  # noqa: E402
from ui_helpers import show_page  # noqa: E402
from transfer_gui.core.evaluation import describe_accuracy  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.training.config import TrainConfig  # noqa: E402
from transfer_gui.core.training.engine import train_run  # noqa: E402
from transfer_gui.ui.results.results_page import ResultsPage  # noqa: E402
from transfer_gui.ui.state import AppState  # noqa: E402

TIMEOUT = 60_000
NOTE = ("Fine-tuning did not beat feature extraction on the validation images (best fine-tuned "
        "epoch 2: 90.0%; feature extraction: 95.0%), so the run kept the feature-extraction model.")


@pytest.fixture
def run(tiny_backbone, tmp_path):
    """A short feature-extraction run on 3 colour classes x 12 images."""
    data = make_color_dataset(tmp_path / "colors")
    # A fixed probe strength: choosing it by cross-validation takes seconds this test needn't.
    config = TrainConfig.for_mode(str(data), "feature_extraction", backbone="tiny_test", epochs=2,
                                  head_l2=1e-3)
    result = train_run(config, tmp_path / "run", feature_cache=FeatureCache())
    assert result.evaluation is not None
    return result


@pytest.fixture
def page(qtbot):
    widget = show_page(qtbot, ResultsPage(AppState()))
    yield widget
    widget.shutdown()


def test_headline_shows_the_interval_and_balanced_accuracy(page, run):
    page.state.set_result(run)
    scores = run.evaluation["splits"][run.evaluation["primary_split"]]
    label = page.split_label(run.evaluation["primary_split"])
    assert page.headline.text() == f"{label} accuracy {describe_accuracy(scores)}"
    low, high = scores["accuracy_ci95"]
    assert f"({low * 100:.0f}–{high * 100:.0f}%, {scores['num_samples']} images)" \
        in page.headline.text()
    assert page.balanced.text().startswith(f"Balanced accuracy {scores['balanced_accuracy']:.1%}")
    assert page.macro_f1.text() == f"Macro-F1 {scores['macro_f1']:.3f}"
    assert "95%" in page.headline.toolTip()
    assert "Balanced accuracy" in page.balanced.toolTip()
    assert "Macro-F1" in page.macro_f1.toolTip()
    assert page.decision.isHidden()  # a feature-extraction run has no note


def test_an_old_evaluation_without_the_new_scores_still_shows(page, run):
    evaluation = {**run.evaluation, "splits": {
        name: {k: v for k, v in s.items() if k not in ("accuracy_ci95", "balanced_accuracy")}
        for name, s in run.evaluation["splits"].items()}}
    page.state.set_result(dataclasses.replace(run, evaluation=evaluation))
    assert "images)" in page.headline.text() and "–" in page.headline.text()
    assert page.balanced.isHidden() and page.macro_f1.text().startswith("Macro-F1")


def test_the_runs_note_says_which_model_it_kept(page, run):
    history = [{**run.history[0], "epoch": 0}, *run.history]  # fine-tuning starts at epoch 0
    evaluation = {**run.evaluation, "best_epoch": 0}
    kept = dataclasses.replace(run, note=NOTE, kept="feature_extraction", history=history,
                               evaluation=evaluation)
    page.state.set_result(kept)
    assert not page.decision.isHidden() and page.decision.text() == NOTE
    assert f"Best epoch 0 of {len(run.history)} (the feature-extraction start)" \
        in page.details.text()
    page.state.set_result(run)
    assert page.decision.isHidden() and page.decision.text() == ""


def test_cross_validate_lists_folds_and_a_summary(qtbot, page, run):
    page.state.set_result(run)
    panel = page.crossval
    assert panel.button.isEnabled() and not panel.stop_button.isEnabled()
    assert panel.table.isHidden()
    panel.folds.setValue(3)
    reports = []
    panel.runner.progress.connect(reports.append)
    with qtbot.waitSignal(panel.runner.finished, timeout=TIMEOUT):
        panel.button.click()
        assert panel.stop_button.isEnabled() and not panel.button.isEnabled()
    assert reports and any("Fold" in r.message for r in reports)
    cv = panel.result
    assert panel.table.rowCount() == 3 == len(cv.fold_scores) and not panel.table.isHidden()
    assert [panel.table.item(r, 0).text() for r in range(3)] == ["1", "2", "3"]
    assert sum(int(panel.table.item(r, 1).text()) for r in range(3)) == 36
    assert panel.table.item(0, 2).text() == f"{cv.fold_scores[0].accuracy:.1%}"
    text = panel.summary.text()
    assert cv.summary() in text and "±" in text and "3 folds, 36 images" in text
    assert "balanced accuracy" in text and panel.error.isHidden()
    assert panel.button.isEnabled() and not panel.stop_button.isEnabled()


def test_too_few_images_in_a_class_is_explained(qtbot, page, run, tmp_path):
    data = make_color_dataset(tmp_path / "small", classes=("red", "green"), per_class=12)
    make_color_dataset(data, classes=("blue",), per_class=2, seed=1)
    config = run.config.with_changes(data_dir=str(data))
    page.state.set_result(dataclasses.replace(run, config=config))
    panel = page.crossval
    assert panel.folds.value() == 5
    with qtbot.waitSignal(panel.runner.failed, timeout=TIMEOUT):
        panel.button.click()
    assert not panel.error.isHidden()
    assert "Class 'blue' has 2 images, fewer than the 5 folds" in panel.error.text()
    assert "set Folds to 2 or fewer" in panel.error.text()
    assert "could not run" in panel.summary.text() and panel.table.isHidden()
    assert panel.button.isEnabled()


def test_another_run_drops_the_scores_and_shutdown_stops_the_job(qtbot, page, run, tmp_path):
    page.state.set_result(run)
    panel = page.crossval
    panel.folds.setValue(3)
    with qtbot.waitSignal(panel.runner.stopped, timeout=TIMEOUT):
        panel.button.click()
        other = make_color_dataset(tmp_path / "other")
        page.state.set_result(dataclasses.replace(
            run, config=run.config.with_changes(data_dir=str(other))))
    assert panel.result is None and panel.table.isHidden() and panel.error.isHidden()
    assert "held out" in panel.summary.text() and panel.button.isEnabled()
    panel.button.click()
    assert panel.runner.is_running()
    assert panel.shutdown()  # cancels and waits for the thread
