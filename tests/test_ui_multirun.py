"""A project with several runs: the Results page's run picker (and the Train page's curves, the
CAM panel and Predict following the chosen run), Compare modes runs joining the project, and
save -> reopen restoring every run, in the picker and in the Compare window."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from synthetic import make_color_dataset  # noqa: E402
from transfer_gui.core.evaluation import describe_accuracy  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.run_result import load_run_result  # noqa: E402
from transfer_gui.core.training.config import MODES, TrainConfig  # noqa: E402
from transfer_gui.core.training.engine import train_run  # noqa: E402

TIMEOUT = 120_000
LABEL = re.compile(r"^(\d+) · (Feature extraction|Fine-tuning|From scratch) · Tiny test net · "
                   r"(\d+\.\d%)( · stopped)?$")


@pytest.fixture
def data(tmp_path):
    return make_color_dataset(tmp_path / "project" / "data", per_class=12)


@pytest.fixture
def two_runs(tiny_backbone, data, tmp_path):
    """Feature extraction for 2 epochs, then fine-tuning for 3 (told apart by their epochs)."""
    cache = FeatureCache()
    runs = []
    for i, (mode, epochs) in enumerate((("feature_extraction", 2), ("fine_tuning", 3)), start=1):
        config = TrainConfig.for_mode(str(data), mode, backbone="tiny_test", epochs=epochs,
                                      batch_size=8, early_stopping_patience=0)
        runs.append(train_run(config, tmp_path / "trained" / f"run{i}", feature_cache=cache))
    return runs


def open_dataset(qtbot, window, folder) -> None:
    window.data_page.open_folder(str(folder))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)


def finish(window, result) -> None:
    """What the Train page does when a run ends: show it, then announce it."""
    window.state.set_result(result)
    window.train_page.trainingFinished.emit(result)


def headline_for(window, evaluation: dict) -> str:
    page = window.results_page
    primary = evaluation["primary_split"]
    scores = evaluation["splits"][primary]
    return f"{page.split_label(primary)} accuracy {describe_accuracy(scores)}"


def check_shows(window, result, run_dir: Path | None = None) -> None:
    """The Results page, the Train page's curves and Predict all show `result`'s run (whose
    folder is `run_dir` in a reopened project)."""
    page = window.results_page
    state = window.state
    run_dir = Path(run_dir or result.run_dir)
    assert Path(state.result.run_dir).resolve() == run_dir.resolve()
    assert page.run_picker.combo.currentIndex() == state.run_index(run_dir)
    assert page.stack.currentIndex() == 1
    assert page.headline.text() == headline_for(window, result.evaluation)
    trained = sum(1 for h in result.history if h["epoch"] > 0)  # not the epoch-0 probe
    assert f"of {trained}" in page.details.text()
    split = page.current_split()
    scores = result.evaluation["splits"][split]
    assert page.matrix.total() == scores["num_samples"]
    assert page.per_class.rowCount() == len(result.evaluation["class_names"])
    assert page.mistakes.paths() == [m["file"] for m in scores["misclassified"]]
    window.train_page.plots.flush()
    assert window.train_page.plots.points("val_acc") == len(result.history)
    assert window.predict_page.model_path().resolve() == (run_dir / "model.pt").resolve()


# ------------------------------------------------------------------------- 1. the run picker
def test_results_page_picks_which_run_to_show(qtbot, make_window, tiny_backbone, data):
    """Two runs trained on the Train page: the newest is shown; the picker shows either, and the
    Train page's curves, the CAM panel and Predict follow it."""
    window = make_window()
    open_dataset(qtbot, window, data)
    window.state.set_backbone("tiny_test")
    page, picker = window.results_page, window.results_page.run_picker
    results = []
    for mode, epochs in (("feature_extraction", 2), ("fine_tuning", 3)):
        window.state.set_mode(mode)
        for name, value in (("epochs", epochs), ("batch_size", 8), ("early_stopping_patience", 0)):
            window.state.set_setting(name, value)
        window.go_to(3)
        assert window.stack.currentWidget() is window.train_page
        with qtbot.waitSignal(window.train_page.trainingFinished, timeout=TIMEOUT) as done:
            window.train_page.start_button.click()
        results.append(done.args[0])
        assert window.state.result is results[-1]  # a newly finished run is the selected one
        assert picker.isHidden() == (len(results) == 1)  # no choice to make with one run
    first, second = results
    assert window.state.runs == [first.run_dir, second.run_dir] and window.projects.dirty
    labels = picker.labels()
    assert [LABEL.match(t).group(1, 2) for t in labels] == [("1", "Feature extraction"),
                                                            ("2", "Fine-tuning")]
    assert LABEL.match(labels[0]).group(3) == f"{first.best['val_acc']:.1%}"
    window.go_to(4)
    assert window.stack.currentWidget() is page
    check_shows(window, second)

    picker.choose(0)
    check_shows(window, first)
    val_image = first.dataset.split("val")[0].path
    window.open_in_cam(val_image)
    assert window.cam_panel.model_path == str(first.run_dir / "model.pt")
    qtbot.waitUntil(lambda: window.cam_panel.current is not None, timeout=20_000)

    picker.choose(1)
    check_shows(window, second)
    window.open_in_cam(val_image)
    assert window.cam_panel.model_path == str(second.run_dir / "model.pt")
    window.cam_panel.shutdown()


def test_picker_stays_for_a_run_without_scores(qtbot, make_window, two_runs):
    """A run stopped before it was evaluated shows no scores, yet the picker is still there."""
    first, second = two_runs
    window = make_window()
    finish(window, dataclasses.replace(first, evaluation=None))
    finish(window, second)
    page = window.results_page
    page.run_picker.choose(0)
    assert page.stack.currentIndex() == 0 and "stopped before" in page.empty.text()
    assert not page.run_picker.isHidden() and page.split_box.isHidden()
    assert page.headline.text() == ""
    page.run_picker.choose(1)
    assert page.stack.currentIndex() == 1 and not page.split_box.isHidden()
    assert page.headline.text() == headline_for(window, second.evaluation)


def test_an_unreadable_run_is_reported_and_the_selection_kept(qtbot, make_window, two_runs,
                                                              tmp_path):
    first, second = two_runs
    window = make_window()
    finish(window, first)
    finish(window, second)
    window.state.set_runs([tmp_path / "gone", second.run_dir])  # as if its folder went away
    window.state.set_result(second)
    window.results_page.run_picker.choose(0)
    warned = window.results_page.run_picker.findChild(QMessageBox, "runError")
    assert warned is not None and "gone" in warned.text()
    assert window.state.result is second
    assert window.results_page.run_picker.combo.currentIndex() == 1


# --------------------------------------------------------------- 2. Compare modes -> project
def test_compare_modes_runs_join_the_project(qtbot, make_window, tiny_backbone, data, tmp_path,
                                             monkeypatch):
    window = make_window()
    open_dataset(qtbot, window, data)
    window.state.set_backbone("tiny_test")
    for mode in reversed(MODES):  # each mode's own settings: Compare modes trains with them
        window.state.set_mode(mode)
        window.state.set_setting("epochs", 2)
        window.state.set_setting("batch_size", 8)
    window.open_compare()
    view = window.compare_view
    monkeypatch.setattr(type(view), "confirm_start", lambda self, configs, seconds: True)
    assert view.run_paths() == [] and not window.projects.dirty
    with qtbot.waitSignal(view.runner.finished, timeout=TIMEOUT) as done:
        view.compare_button.click()
    trained = done.args[0]
    assert [json.loads((p / "config.json").read_text())["mode"] for p in trained] == list(MODES)
    assert window.state.runs == trained and window.projects.dirty
    assert view.run_paths() == trained  # once each, in the project's order
    assert window.state.result.run_dir == trained[-1]  # the last one finished is selected
    picker = window.results_page.run_picker
    assert not picker.isHidden()
    assert [LABEL.match(t).group(2) for t in picker.labels()] == \
        ["Feature extraction", "Fine-tuning", "From scratch"]
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Cancel)
    assert not window.projects.maybe_save() and asked  # the unsaved prompt covers them

    path = tmp_path / "project" / "modes.tgproj"
    assert window.projects.save_to(path)
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("project.json"))
    assert [r["name"] for r in manifest["runs"]] == [Path(p).name for p in trained]

    again = make_window()
    assert again.projects.open(str(path))
    qtbot.waitUntil(lambda: again.state.result is not None, timeout=20_000)
    assert len(again.state.runs) == 3
    assert again.results_page.run_picker.labels() == picker.labels()
    again.open_compare()
    assert [s.mode for s in again.compare_view.summaries()] == list(MODES)
    for i, run in enumerate(trained):
        again.results_page.run_picker.choose(i)
        assert again.state.result.evaluation == load_run_result(run).evaluation


# ------------------------------------------------------------------- 3. save -> reopen
def test_save_and_reopen_restores_every_run(qtbot, make_window, two_runs, data, tmp_path):
    first, second = two_runs
    window = make_window()
    open_dataset(qtbot, window, data)
    for result in two_runs:
        finish(window, result)
    window.open_compare()
    assert window.compare_view.run_paths() == [first.run_dir, second.run_dir]
    labels = window.results_page.run_picker.labels()
    path = tmp_path / "project" / "two.tgproj"
    assert window.projects.save_to(path)

    again = make_window()  # a fresh app: its runs folder holds none of these runs
    assert again.projects.open(str(path))
    qtbot.waitUntil(lambda: again.state.result is not None, timeout=20_000)
    runs = again.state.runs
    assert [p.name for p in runs] == ["run1", "run2"] and not again.projects.dirty
    assert all(p.parent != first.run_dir.parent for p in runs)  # the project's own copies
    picker = again.results_page.run_picker
    assert picker.labels() == labels and not picker.isHidden()
    assert again.state.selected_index() == 1  # the last run, as before
    check_shows(again, second, runs[1])
    picker.choose(0)
    check_shows(again, first, runs[0])
    assert again.state.result.history == first.history and again.state.result.best == first.best
    again.open_compare()
    assert again.compare_view.run_paths() == runs
    assert [s.best_val_acc for s in again.compare_view.summaries()] == \
        [first.best["val_acc"], second.best["val_acc"]]


def test_compare_window_follows_the_project(qtbot, make_window, two_runs, tmp_path):
    """Runs join the open Compare window as they finish; another project replaces them, but a
    run folder added by hand stays."""
    first, second = two_runs
    window = make_window()
    finish(window, first)
    window.open_compare()
    view = window.compare_view
    assert view.run_paths() == [first.run_dir]
    finish(window, second)
    assert view.run_paths() == [first.run_dir, second.run_dir]
    path = tmp_path / "p.tgproj"
    assert window.projects.save_to(path)
    window.projects.new()
    assert window.state.runs == [] and view.run_paths() == []
    view.add_runs([first.run_dir])  # by hand
    assert window.projects.open(str(path))
    qtbot.waitUntil(lambda: window.state.result is not None, timeout=20_000)
    assert view.run_paths()[-1] == first.run_dir and len(view.run_paths()) == 3
    assert view.run_paths()[:2] == window.state.runs
