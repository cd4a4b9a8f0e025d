"""Train page across runs (issue 12.7 and 12.8): a new run starts from a clean page, Stop says
what was kept, and "Time left" shows the estimate from timed steps."""

from __future__ import annotations

import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.jobs import Progress  # noqa: E402
from transfer_gui.core.jobs.events import EpochEnded  # noqa: E402
from transfer_gui.ui.state import AppState  # noqa: E402
from transfer_gui.ui.train.train_page import TrainPage, images_per_second  # noqa: E402

TIMEOUT = 120_000
DURATION = re.compile(r"^\d+:\d\d$")


@pytest.fixture
def page(qtbot, tiny_backbone, color_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr("transfer_gui.core.training.engine.default_feature_cache",
                        lambda: FeatureCache())  # in memory: nothing from earlier tests
    state = AppState()
    state.set_dataset(str(color_dataset), None)
    state.set_backbone("tiny_test")
    p = TrainPage(state, runs_root=tmp_path / "runs")
    qtbot.addWidget(p)
    p.resize(1000, 700)
    yield p
    p.shutdown()


def configure(state, mode, **settings):
    state.set_mode(mode)
    for name, value in {"batch_size": 4, "early_stopping_patience": 0, **settings}.items():
        state.set_setting(name, value)


def test_a_new_run_starts_clean_and_stop_says_what_is_kept(qtbot, page):
    state = page.state
    configure(state, "feature_extraction", epochs=3)
    with qtbot.waitSignal(page.trainingFinished, timeout=TIMEOUT) as first:
        page.start()
    assert first.args[0].best is not None
    assert "Finished — the best model (epoch" in page.progress.format()
    assert page.labels["best"].text() != "–" and page.plots.points("val_acc") >= 1
    assert page.plots.x_range()[1] < 5  # epochs 0-3

    configure(state, "fine_tuning", epochs=200)
    epochs_seen = []
    page.runner.event.connect(lambda e: isinstance(e, EpochEnded) and epochs_seen.append(
        (e.epoch, page.progress.format())))
    page.start()
    # nothing of the first run is left: facts, bar, curves, axis, log
    assert all(page.labels[k].text() == "–" for k in ("epoch", "eta", "rate", "best"))
    assert page.progress.value() == 0 and page.progress.format() == "%p%"
    assert "Finished" not in page.progress.text()
    page.plots.flush()
    assert page.plots.points("val_acc") == 0 and page.plots.points("batch_loss") == 0
    assert page.plots.x_range()[1] >= 200  # the new run's epochs, not the old axis
    assert "Finished" not in page.log.toPlainText() and "Started" in page.log.toPlainText()
    qtbot.waitUntil(lambda: any(e >= 1 for e, _ in epochs_seen), timeout=TIMEOUT)
    with qtbot.waitSignal(page.trainingFinished, timeout=TIMEOUT) as second:
        page.stop()
    result = second.args[0]
    assert result.cancelled and result.best is not None
    text = page.progress.format()
    assert text == f"Stopped — the best model (epoch {result.best['epoch']}" + (
        ", feature extraction) is kept" if result.best["epoch"] == 0 else ") is kept")
    assert "Done" not in page.progress.text() and "100%" not in page.progress.text()
    assert page.progress.value() < page.progress.maximum()
    assert page.labels["eta"].text() == "–"
    assert page.outcome_text(result) == text


def test_time_left_comes_from_timed_steps(qtbot, page):
    """Fine-tuning: nothing to extrapolate from before its first steps (epoch 0 is the probe),
    then the estimate; "–" once the run is over."""
    configure(page.state, "fine_tuning", epochs=3, batch_size=8)
    shown = {}
    page.runner.event.connect(lambda e: isinstance(e, EpochEnded) and shown.setdefault(
        e.epoch, page.labels["eta"].text()))
    with qtbot.waitSignal(page.trainingFinished, timeout=TIMEOUT):
        page.start()
    assert shown[0] == "estimating…"
    assert DURATION.match(shown[1]) and DURATION.match(shown[2]), shown
    assert page.labels["eta"].text() == "–"
    assert page.time_left_text(Progress(0.5, "", 125.0, "train")) == "2:05"
    assert page.time_left_text(Progress(0.05, "", 3.0, "prepare")) == "estimating…"
    page.state.set_mode("feature_extraction")  # there, the feature pass is most of the run
    assert page.time_left_text(Progress(0.3, "", 42.0, "prepare")) == "0:42"


def test_images_per_second_never_reads_zero():
    assert [images_per_second(r) for r in (0.19, 7.25, 12.4, 1250.0)] == \
        ["0.2", "7.2", "12", "1,250"]
