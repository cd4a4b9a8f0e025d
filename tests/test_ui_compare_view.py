"""Compare view: table and curves for hand-written runs, the three-mode comparison, Stop, a render."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWidget

from test_compare import epoch, write_run
from transfer_gui.core.training.config import MODES
from transfer_gui.ui.compare.compare_view import CompareView, compare_modes_job

TIMEOUT = 120_000


@pytest.fixture
def two_runs(tmp_path):
    alpha = write_run(
        tmp_path / "alpha",
        {"schema_version": 1, "data_dir": "/d", "backbone": "resnet18", "mode": "feature_extraction",
         "epochs": 30, "batch_size": 32, "learning_rate": 0.003, "augmentation": "none"},
        [epoch(1, 0.9, 0.5, 4.0), epoch(2, 0.6, 0.75, 4.0), epoch(3, 0.7, 0.7, 4.34)],
        evaluation={"schema_version": 1, "class_names": ["a", "b"], "primary_split": "test",
                    "best_epoch": 2, "splits": {"test": {"accuracy": 0.7, "macro_f1": 0.66666}}},
        result={"best_epoch": 2, "best_val_acc": 0.75, "epochs_run": 3,
                "stop_reason": "early stopping", "cancelled": False, "seconds": 12.34})
    beta = write_run(
        tmp_path / "beta",
        {"schema_version": 1, "data_dir": "/d", "backbone": "efficientnet_lite0",
         "mode": "fine_tuning", "epochs": 10, "batch_size": 16, "learning_rate": 0.001,
         "augmentation": "light"},
        [epoch(1, 0.8, 0.625, 50.0), epoch(2, 0.4, 0.875, 50.0)])
    return alpha, beta


@pytest.fixture
def view(qtbot):
    w = CompareView()
    qtbot.addWidget(w)
    yield w
    assert w.shutdown()


ALPHA = "1 · Feature extraction · ResNet-18 · 75.0%"
BETA = "2 · Fine-tuning · EfficientNet-Lite0 · 87.5%"


def table_rows(view) -> list[list[str]]:
    t = view.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def test_table_and_curves(view, two_runs, qtbot):
    with qtbot.waitSignal(view.runsChanged, timeout=2000) as signal:
        view.set_runs(list(two_runs))
    assert signal.args[0] == list(two_runs)
    assert table_rows(view) == [
        [ALPHA, "ResNet-18", "Feature extraction", "3/30", "0.003", "32", "none", "75.0%",
         "0.667", "12.3 s", "4.1 s", "–"],
        [BETA, "EfficientNet-Lite0", "Fine-tuning", "2/10", "0.001", "16", "light", "87.5%",
         "–", "1 min 40 s", "50.0 s", "–"],
    ]  # the first column names runs as the Run picker does; then the time of a training epoch,
    # and the peak memory (hand-written runs without one)
    assert view.table.item(0, 0).toolTip().startswith(f"{ALPHA}\n{two_runs[0]}")
    assert [view.table.item(r, 2).data(Qt.ItemDataRole.UserRole) for r in range(2)] == \
        ["feature_extraction", "fine_tuning"]
    assert view.curve_points("acc") == [3, 2] and view.curve_points("loss") == [3, 2]
    x, y = view._acc_curves[0].getData()
    assert list(x) == [1, 2, 3] and list(y) == [0.5, 0.75, 0.7]
    legend = [label.text for _, label in view.acc_plot.getPlotItem().legend.items]
    # runs on different backbones: the legend names each one's backbone too
    assert legend == ["1 · Feature extraction · ResNet-18", "2 · Fine-tuning · EfficientNet-Lite0"]
    assert view._acc_curves[0].opts["pen"].color() != view._acc_curves[1].opts["pen"].color()

    # Sorting by best accuracy (numeric), descending: beta first.
    view.table.sortItems(7, Qt.SortOrder.DescendingOrder)
    assert [r[0] for r in table_rows(view)] == [BETA, ALPHA]
    view.table.sortItems(9, Qt.SortOrder.AscendingOrder)  # time: 12.3 s < 1 min 40 s
    assert [r[0] for r in table_rows(view)] == [ALPHA, BETA]

    # Selecting a row highlights its curves.
    view.table.selectRow(1)
    assert view.selected_runs() == [two_runs[1]]
    assert view._acc_curves[1].opts["pen"].widthF() > view._acc_curves[0].opts["pen"].widthF()

    # Setting fewer runs drops the others' curves; a bad folder is skipped with a message.
    bad = two_runs[0].parent / "not_a_run"
    bad.mkdir()
    view.set_runs([two_runs[1], bad])
    assert [r[0] for r in table_rows(view)] == [f"1{BETA[1:]}"]  # now the first run
    assert view.curve_points("acc") == [2]
    assert "not_a_run" in view.status.text()
    view.set_runs([])
    assert view.table.rowCount() == 0 and view.curve_points() == []
    assert not view.empty_hint.isHidden()


def test_every_control_has_a_tooltip(view):
    for w in view.findChildren(QWidget):
        if isinstance(w, QPushButton) or w in (view.table, view.acc_plot, view.loss_plot,
                                                    view.progress_bar):
            assert w.toolTip(), w


def test_compare_modes(view, tiny_backbone, color_dataset, tmp_path, qtbot):
    runs_root = tmp_path / "runs"
    changes = []
    view.runsChanged.connect(changes.append)
    with qtbot.waitSignal(view.runner.finished, timeout=TIMEOUT) as done:
        view.compare_modes(color_dataset, "tiny_test", runs_root, {"epochs": 2, "batch_size": 8})
        assert not view.running_row.isHidden() and view.is_running()
        assert not view.compare_button.isEnabled()
    assert len(done.args[0]) == 3
    assert [len(c) for c in changes] == [1, 2, 3]  # each run joined the table when it finished
    assert [s.mode for s in view.summaries()] == list(MODES)
    assert [r[2] for r in table_rows(view)] == ["Feature extraction", "Fine-tuning", "From scratch"]
    assert all(s.backbone == "tiny_test" and s.epochs_run == 2 and s.max_epochs == 2
               and s.batch_size == 8 for s in view.summaries())
    assert all(Path(s.path).parent == runs_root for s in view.summaries())
    # fine-tuning's curve starts at epoch 0: the linear probe it starts from, validated first
    assert view.curve_points("acc") == [2, 3, 2]
    assert view.running_row.isHidden() and "finished" in view.status.text()


def test_stop_ends_promptly(view, tiny_backbone, color_dataset, tmp_path, qtbot):
    messages = []
    view.runner.progress.connect(lambda p: messages.append(p.message))
    view.compare_modes(color_dataset, "tiny_test", tmp_path / "runs",
                       {"epochs": 200, "batch_size": 4, "early_stopping_patience": 0})
    qtbot.waitUntil(lambda: any("epoch" in m.lower() for m in messages), timeout=TIMEOUT)
    assert any(m.startswith("feature extraction (1/3)") for m in messages)
    started = time.monotonic()
    with qtbot.waitSignal(view.runner.cancelled, timeout=10_000):
        view.stop_button.click()
    assert time.monotonic() - started < 5
    assert view.running_row.isHidden() and "stopped" in view.status.text()
    assert not view.is_running() and view.compare_button.isEnabled() is False  # no source set
    assert len(view.summaries()) <= 1  # at most the stopped run, never all three


def test_job_honours_cancel_between_runs(tiny_backbone, color_dataset, tmp_path):
    """Cancelled before it starts: the job trains nothing."""
    from transfer_gui.core.errors import Cancelled
    from transfer_gui.core.jobs import CancelToken

    class State:
        cancel = CancelToken()
        events: list = []

        def progress(self, p):
            pass

        def emit(self, name, payload=None):
            self.events.append((name, payload))

    state = State()
    state.cancel.cancel()
    with pytest.raises(Cancelled):
        compare_modes_job(state, str(color_dataset), "tiny_test", tmp_path / "runs", {"epochs": 1})
    assert state.events == [] and not any((tmp_path / "runs").iterdir())


def test_render_png(view, two_runs, qtbot, tmp_path):
    view.resize(1280, 800)
    third = write_run(
        tmp_path / "gamma_from_scratch",
        {"schema_version": 1, "data_dir": "/d", "backbone": "resnet18", "mode": "from_scratch",
         "epochs": 30, "batch_size": 32, "learning_rate": 0.001, "augmentation": "strong"},
        [epoch(i, 1.2 - 0.03 * i, 0.3 + 0.02 * i, 20.0) for i in range(1, 16)])
    view.set_runs([*two_runs, third])
    view.set_source("/data/flowers", "resnet18", tmp_path / "runs")
    view.show()
    qtbot.waitExposed(view)
    view.table.selectRow(2)
    qtbot.wait(200)
    image = view.grab().toImage()
    assert (image.width(), image.height()) == (1280, 800)
    out = Path(os.environ.get("COMPARE_VIEW_PNG", "/tmp/compare_view.png"))
    assert image.save(str(out))
