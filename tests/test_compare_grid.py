"""The Compare grid (issue 15): modes x backbones trained one after the other on the same split,
each run with its time per epoch and peak memory, the table's columns and the sentence about
transfer; the window's grid of ticks and its estimate."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from synthetic import make_color_dataset, tiny_spec  # noqa: E402
from transfer_gui.core.compare import COLUMNS, RunSummary, compare_runs, format_table  # noqa: E402,E501
from transfer_gui.core.errors import Cancelled  # noqa: E402
from transfer_gui.core.compare_summary import transfer_summary  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.jobs import events  # noqa: E402
from transfer_gui.core.jobs.compare_modes import compare_grid_job, estimate_job, grid_configs  # noqa: E402,E501
from transfer_gui.core.jobs.state import RecordingState  # noqa: E402
from transfer_gui.core.models import register_backbone, unregister_backbone  # noqa: E402
from transfer_gui.core.run import Run  # noqa: E402
from transfer_gui.core.training.config import (FEATURE_EXTRACTION, FINE_TUNING,  # noqa: E402
                                               FROM_SCRATCH, MODES)

QUICK = {"epochs": 1, "batch_size": 8, "head_l2": 1e-3}  # a given L2: no search (seconds)
NAMES = {"grid_a": "Tiny A", "grid_b": "Tiny B"}
CELLS = [("grid_a", FEATURE_EXTRACTION), ("grid_a", FROM_SCRATCH), ("grid_b", FEATURE_EXTRACTION),
         ("grid_b", FROM_SCRATCH)]


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    """Two tiny backbones with weights "here", registered for this module's tests."""
    folder = tmp_path_factory.mktemp("grid_weights")
    for name, display in NAMES.items():
        register_backbone(replace(tiny_spec(folder / f"{name}.pth", name=name),
                                  display_name=display))
    yield list(NAMES)
    for name in NAMES:
        unregister_backbone(name)


@pytest.fixture(scope="module")
def grid(backbones, tmp_path_factory):
    """The 2 x 2 grid trained once: (job state, data folder, run folders)."""
    root = tmp_path_factory.mktemp("grid")
    data = make_color_dataset(root / "colors", per_class=8)
    quick = {**QUICK, "feature_cache_dir": str(root / "cache")}
    state = RecordingState()
    return state, data, compare_grid_job(state, str(data), CELLS, root / "runs", quick)


def test_a_grid_trains_every_cell_on_one_split_and_records_time_and_memory(grid):
    state, data, folders = grid
    trained = state.of_type(events.RunTrained)
    assert [(e.result.config.backbone, e.result.config.mode) for e in trained] == CELLS
    assert [Path(e.result.run_dir) for e in trained] == folders
    assert "(4/4)" in state.progresses[-1].message and "Tiny B" in state.progresses[-1].message

    splits = [{name: sorted(s.path for s in Run.open(f).dataset().split(name))
               for name in ("train", "val")} for f in folders]
    assert all(split == splits[0] for split in splits[1:])  # the same split for every cell

    summaries = compare_runs(folders)
    for s in summaries:
        assert s.epoch_seconds is not None and s.epoch_seconds > 0, s.name
        assert s.peak_memory_bytes is not None and s.peak_memory_bytes > 0, s.name  # Linux
        assert s.peak_memory_bytes >= s.start_memory_bytes
        assert s.val_images == len(splits[0]["val"]) and s.best_val_acc is not None

    assert {"macro-F1", "seconds", "s/epoch", "peak MB"} <= set(COLUMNS)
    header, *rows = format_table(summaries).splitlines()
    assert "s/epoch" in header and "peak MB" in header and len(rows) == 4

    text = transfer_summary(summaries, NAMES)
    for name, display in NAMES.items():
        runs = {s.mode: s for s in summaries if s.backbone == name}
        fe, scratch = runs[FEATURE_EXTRACTION], runs[FROM_SCRATCH]
        assert (f"{display}: feature extraction reached {fe.best_val_acc:.0%} in "
                in text), text
        assert f"; from scratch {scratch.best_val_acc:.0%} in " in text, text
    assert "Highest: " in text


def test_estimates_each_backbone_and_stopping_keeps_the_runs_it_finished(backbones, tmp_path):
    data = make_color_dataset(tmp_path / "colors", per_class=6)
    seconds = estimate_job(RecordingState(), grid_configs(str(data), CELLS, QUICK))
    assert len(seconds) == 4 and all(s > 0 for s in seconds)
    state = RecordingState(cancel_after_events=1)
    with pytest.raises(Cancelled):
        compare_grid_job(state, str(data), CELLS[::2], tmp_path / "runs", QUICK)
    assert len(state.of_type(events.RunTrained)) == 1
    assert len(list((tmp_path / "runs").iterdir())) == 1


def test_the_sentence_claims_only_what_the_validation_images_support():
    def run(mode, acc, seconds, n=100, backbone="b"):
        return RunSummary(name=mode, path=Path(mode), backbone=backbone, mode=mode,
                          epochs_run=1, max_epochs=1, learning_rate=None, batch_size=None,
                          augmentation="", best_val_acc=acc, macro_f1=None, seconds=seconds,
                          stop_reason="", val_images=n)

    text = transfer_summary([run(FEATURE_EXTRACTION, 0.91, 40), run(FROM_SCRATCH, 0.55, 720)])
    assert text.startswith("Feature extraction reached 91% in 40 s; from scratch 55% in "
                           "12 min: the pretrained backbone is worth it here"), text
    close = transfer_summary([run(FEATURE_EXTRACTION, 0.80, 40, n=20),
                              run(FROM_SCRATCH, 0.75, 720, n=20)])
    assert "worth it" not in close and "as close as these validation images can tell" in close
    stopped = run(FROM_SCRATCH, 0.99, 5)
    stopped.cancelled = True
    assert "from scratch" not in transfer_summary([run(FEATURE_EXTRACTION, 0.9, 4), stopped])
    assert transfer_summary([]) == ""


# --------------------------------------------------------------------------------- the window
def test_the_window_grid_ticks_asks_and_shows_the_runs(backbones, grid, qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from test_ui_compare_modes_plan import answer_confirmation
    from transfer_gui.ui.compare.compare_view import CompareView

    _, data, folders = grid
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(1366, 768)
    view.show()
    picker = view.grid
    assert picker.box("grid_a", FINE_TUNING) is not None
    assert picker.box("resnet18", FEATURE_EXTRACTION) is None  # no weights here: listed greyed
    assert "ResNet-18" in picker.missing.text() and "Model page" in picker.missing.text()
    assert not view.compare_button.isEnabled()  # no data yet

    view.set_source(str(data), "grid_a", tmp_path / "runs", QUICK)  # as today: three modes
    assert picker.cells() == [("grid_a", m) for m in MODES]
    assert view.compare_button.isEnabled() and "(3)" in view.compare_button.text()
    picker.box("grid_a", FINE_TUNING).click()  # the user's ticks win over the chosen backbone
    picker.box("grid_b", FEATURE_EXTRACTION).click()
    picker.box("grid_b", FROM_SCRATCH).click()
    view.set_source(str(data), "grid_b", tmp_path / "runs", QUICK)
    assert picker.cells() == CELLS and "(4)" in view.compare_button.text()

    seen: list = []
    timer = answer_confirmation(qtbot, "Cancel", seen)
    assert not view.confirm_start(grid_configs(str(data), CELLS, QUICK), [30, 30, 60, 120])
    timer.stop()
    question, lines = seen[0][0], seen[0][1].splitlines()
    assert question == "This trains four models: about 4 minutes on this computer. Start?"
    assert lines[0].startswith("Feature extraction, Tiny A: less than a minute (up to 1 rounds)")
    assert lines[3].startswith("From scratch, Tiny B: about 2 minutes")

    view.set_runs(folders)
    headers = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    for column in ("Best val. accuracy", "Macro-F1", "Time per epoch", "Training time",
                   "Peak memory"):
        assert column in headers
    memory = headers.index("Peak memory")
    assert all(view.table.item(r, memory).text().endswith(" MB") for r in range(4))
    assert view.curve_points("acc") == [1, 1, 1, 1]
    assert view.summary.text().startswith("Tiny A: feature extraction reached ")


def test_closing_the_window_during_a_grid_stops_it_as_stop_does(backbones, grid, qtbot,
                                                                tmp_path):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox
    from transfer_gui.ui.compare.compare_view import CompareView

    _, data, _ = grid
    view = CompareView()
    qtbot.addWidget(view)
    view.show()
    messages: list = []
    view.runner.progress.connect(lambda p: messages.append(p.message))
    view.compare_grid(str(data), [("grid_a", FROM_SCRATCH), ("grid_b", FROM_SCRATCH)],
                      tmp_path / "runs", {"epochs": 200, "batch_size": 4,
                                          "early_stopping_patience": 0})
    qtbot.waitUntil(lambda: any("epoch" in m.lower() for m in messages), timeout=60_000)

    asked: list = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == "compareCloseQuestion":
            timer.stop()
            asked.append(box.text())
            next(b for b in box.buttons() if b.text() == "&Stop and close").click()

    timer = QTimer()
    timer.timeout.connect(answer)
    timer.start(20)
    with qtbot.waitSignal(view.runner.cancelled, timeout=20_000):
        view.close()
    timer.stop()
    assert asked == ["A comparison is training. Stop it?"] and not view.isVisible()
    # the interrupted run is kept as Stop keeps it (with its best model, or as NAME.partial
    # before its first one); the second cell never started
    (kept,) = (tmp_path / "runs").iterdir()
    assert "grid_a_from_scratch" in kept.name
    assert all(s.cancelled for s in view.summaries()) and len(view.summaries()) <= 1
