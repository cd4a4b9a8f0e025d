"""No run is lost: closing during training asks about unsaved runs too (the stopped run's best
model is a run), and the next start offers runs never saved in a project. A reopened project
lands on Results, with its name once in the title."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

from synthetic import make_color_dataset  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.project import load_project  # noqa: E402
from transfer_gui.core.run_writer import staged_run  # noqa: E402
from transfer_gui.core.training.config import TrainConfig  # noqa: E402
from transfer_gui.core.training.engine import train_run  # noqa: E402
from transfer_gui.ui.project import unsaved_runs  # noqa: E402


@pytest.fixture
def finished_run(tiny_backbone, tmp_path):
    data = make_color_dataset(tmp_path / "project" / "data", per_class=8)
    config = TrainConfig.for_mode(str(data), backbone="tiny_test", epochs=2, head_l2=1e-3)
    return train_run(config, tmp_path / "runs" / "run1", feature_cache=FeatureCache())


def answers(monkeypatch, *replies):
    """Answer QMessageBox.question with `replies` in turn; returns the titles asked."""
    asked, queue = [], list(replies)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda parent, title, *a, **k: asked.append(title) or queue.pop(0))
    return asked


def open_dataset(qtbot, window, folder):
    window.data_page.open_folder(str(folder))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)


def start_long_fine_tuning(qtbot, make_window, color_dataset):
    """A window training a 500-epoch fine-tuning run (Close interrupts it); returns its run folder."""
    window = make_window()
    window.show()
    open_dataset(qtbot, window, color_dataset)
    window.state.set_backbone("tiny_test")
    window.state.set_mode("fine_tuning")
    for name, value in {"epochs": 500, "batch_size": 8, "head_l2": 1e-3}.items():
        window.state.set_setting(name, value)
    window.train_page.start()
    return window, window.train_page.run_dir


def has_staged_model(run_dir) -> bool:
    """A model saved in the run being written (it moves to `run_dir` when training ends)."""
    staged = staged_run(run_dir)
    return staged is not None and staged.has_model


def test_closing_during_training_asks_about_the_stopped_run_and_saves_it(
        qtbot, make_window, tiny_backbone, color_dataset, tmp_path, monkeypatch):
    window, run_dir = start_long_fine_tuning(qtbot, make_window, color_dataset)
    # Noted as soon as it starts: a crash would still leave it to be offered back.
    assert [p.resolve() for p in window.projects.unsaved.paths()] == [run_dir.resolve()]
    qtbot.waitUntil(lambda: has_staged_model(run_dir), timeout=60_000)
    assert window.state.training

    target = tmp_path / "saved.tgproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    asked = answers(monkeypatch, QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Save)
    window.close()
    assert asked == ["Training is running", "Unsaved runs"]
    assert not window.isVisible() and (run_dir / "result.json").is_file()  # training ended
    assert len(load_project(target, tmp_path / "unpacked").runs) == 1
    assert window.projects.unsaved.paths() == []  # saved: not offered at the next start


def test_closing_during_training_then_cancel_keeps_the_window_and_the_run(
        qtbot, make_window, tiny_backbone, color_dataset, monkeypatch):
    window, run_dir = start_long_fine_tuning(qtbot, make_window, color_dataset)
    qtbot.waitUntil(lambda: has_staged_model(run_dir), timeout=60_000)
    answers(monkeypatch, QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Cancel)
    window.close()
    assert window.isVisible() and window.projects.dirty
    qtbot.waitUntil(lambda: not window.state.training, timeout=10_000)
    assert window.state.run_index(run_dir) == 0 and len(window.state.runs) == 1
    assert not window.train_page.closing  # a later Stop scores its run again


def test_the_next_start_offers_runs_never_saved(qtbot, make_window, finished_run, monkeypatch):
    first = make_window(settings="shared.ini")
    first.state.set_dataset(str(finished_run.config.data_dir), finished_run.dataset)
    first.train_page.trainingFinished.emit(finished_run)  # as when training ends
    assert first.projects.dirty
    # The app ends without the question (a crash, a kill, a logout).

    offered = []
    ask = lambda answer: lambda window, runs: offered.append(list(runs)) or answer  # noqa: E731
    later = make_window(settings="shared.ini")
    assert later.projects.offer_unsaved_runs(ask(unsaved_runs.LATER)) == unsaved_runs.LATER
    assert later.state.runs == [] and offered == [[finished_run.run_dir]]

    second = make_window(settings="shared.ini")
    second.state.set_backbone("tiny_test")
    assert second.projects.offer_unsaved_runs(ask(unsaved_runs.OPEN)) == unsaved_runs.OPEN
    assert second.state.runs == [finished_run.run_dir] and second.projects.dirty
    assert second.projects.path is None and second.windowTitle() == "Unsaved project[*]"
    qtbot.waitUntil(lambda: second.stack.currentWidget() is second.results_page, timeout=20_000)
    assert second.state.result.best == finished_run.best

    # Discarding (here, or at the close question) forgets them: not offered again.
    third = make_window(settings="shared.ini")
    assert third.projects.offer_unsaved_runs(ask(unsaved_runs.DISCARD)) == unsaved_runs.DISCARD
    fourth = make_window(settings="shared.ini")
    assert fourth.projects.offer_unsaved_runs(ask(unsaved_runs.OPEN)) == ""
    assert len(offered) == 3 and fourth.state.runs == []


def test_a_run_without_a_model_is_not_offered(make_window, tmp_path):
    window = make_window()
    empty = tmp_path / "stopped_early"
    empty.mkdir()
    window.projects.unsaved.add([empty, tmp_path / "gone"])
    assert window.projects.offer_unsaved_runs(lambda *a: pytest.fail("asked")) == ""
    assert window.projects.unsaved.paths() == [empty]  # a folder that is gone is forgotten


def test_the_offer_dialog_reads_plainly(qtbot, monkeypatch, tmp_path):
    shown = {}

    def exec_(box):
        shown["text"] = box.text()
        shown["buttons"] = [b.text() for b in box.buttons()]
        later = next(b for b in box.buttons() if "Later" in b.text())
        later.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    answer = unsaved_runs.ask_about_unsaved_runs(None, [tmp_path / "a", tmp_path / "b"])
    assert answer == unsaved_runs.LATER
    assert shown["text"] == "2 runs from your last session were not saved in a project."
    assert {"&Open them", "&Discard", "&Later"} <= set(shown["buttons"])


def test_a_reopened_project_lands_on_results_with_its_name_once(qtbot, make_window, finished_run,
                                                               tmp_path):
    first = make_window(settings="shared.ini")
    first.state.set_dataset(str(finished_run.config.data_dir), finished_run.dataset)
    first.train_page.trainingFinished.emit(finished_run)
    assert first.windowTitle() == "Unsaved project[*]" and first.isWindowModified()
    path = tmp_path / "colors.tgproj"
    assert first.projects.save_to(path)
    assert first.windowTitle() == "colors[*]" and not first.isWindowModified()

    second = make_window(settings="shared.ini")
    assert second.windowTitle() == "Transfer GUI"
    assert second.projects.open(str(path))
    # Qt adds " — Transfer GUI" (the application's display name) to what the window sets.
    assert second.windowTitle().replace("[*]", "") == "colors"
    assert not second.isWindowModified()
    qtbot.waitUntil(lambda: second.stack.currentWidget() is second.results_page, timeout=20_000)
    second.projects.new()
    assert second.windowTitle() == "Transfer GUI"
