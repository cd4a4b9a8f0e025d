"""Train page and plots with fine-tuning's "epoch 0" (the linear probe) and no "lr" key."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from synthetic import make_color_dataset  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.jobs.events import EpochEnded  # noqa: E402
from transfer_gui.core.training.config import TrainConfig  # noqa: E402
from transfer_gui.core.training.engine import train_run  # noqa: E402
from transfer_gui.ui.train.train_page import TrainPage  # noqa: E402
from transfer_gui.ui.plots import TrainingPlots  # noqa: E402
from transfer_gui.ui.state import AppState  # noqa: E402

PROBE = {"epoch": 0, "train_loss": 0.4, "train_acc": 0.9, "val_loss": 0.5, "val_acc": 0.85,
         "seconds": 0.0}  # no "lr": the probe is fitted by L-BFGS


def test_plots_draw_epoch_zero_at_x_zero(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.add_epoch(PROBE)
    plots.add_epoch({**PROBE, "epoch": 1, "val_acc": 0.9})
    plots.flush()
    for name in ("train_loss", "val_loss", "train_acc", "val_acc"):
        x, _ = plots.curves[name].getData()
        assert list(x) == [0, 1], name


def test_train_page_logs_and_reopens_a_fine_tuning_run(qtbot, tiny_backbone, tmp_path):
    data = make_color_dataset(tmp_path / "colors")
    config = TrainConfig.for_mode(str(data), "fine_tuning", backbone="tiny_test", epochs=2,
                                  batch_size=8, early_stopping_patience=0, head_l2=1e-3)
    result = train_run(config, tmp_path / "run", feature_cache=FeatureCache())
    assert [h["epoch"] for h in result.history] == [0, 1, 2]
    assert "lr" not in result.history[0]
    page = TrainPage(AppState(), runs_root=tmp_path / "runs")
    qtbot.addWidget(page)
    page._on_event(EpochEnded(PROBE))  # as the worker sends it during a run
    assert "Epoch 0 (feature extraction, before fine-tuning)" in page.log.toPlainText()
    page.state.set_result(result)  # a run chosen elsewhere: its curves are shown
    x, _ = page.plots.curves["val_acc"].getData()
    assert list(x) == [0, 1, 2]
    assert page.labels["epoch"].text() == "2/2"
    page.shutdown()
