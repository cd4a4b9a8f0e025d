"""The Results page's "Likely label errors…" (issue 14): a ranked gallery with the given and the
suggested label; relabel, leave out and keep are corrections (undoable; keep changes no data)
and change nothing on disk; moving the file happens only after a confirmation, never overwrites,
and Undo moves it back; the next training uses the corrections and records them in dataset.json."""

from __future__ import annotations

import os

import pytest

from fake_runs import write_run
from synthetic import make_color_dataset
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.doctor import DoctorReport, LabelFinding, Picture
from transfer_gui.core.features import FeatureCache

TIMEOUT = 60_000


def snapshot(root):
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file()}


@pytest.fixture
def flipped(tmp_path):
    """Colour classes; one red picture filed under blue."""
    root = make_color_dataset(tmp_path / "colors", per_class=20)
    (root / "red" / "red_003.png").rename(root / "blue" / "really_red.png")
    return root


@pytest.fixture
def results(qtbot, tmp_path, flipped, tiny_backbone):
    from transfer_gui.ui.results.results_page import ResultsPage
    from transfer_gui.ui.state import AppState

    state = AppState()
    state.set_dataset(str(flipped), scan_dataset(flipped))
    state.select_run(write_run(tmp_path / "run", flipped))
    page = ResultsPage(state)
    qtbot.addWidget(page)
    page.resize(1366, 768)
    page.show()
    yield page
    page.shutdown()


def reviewed(page, qtbot):
    assert page.label_review.isEnabled()
    dialog = page.label_review.open_review()
    qtbot.waitUntil(lambda: dialog.review is not None, timeout=TIMEOUT)
    return dialog


def card_of(dialog, name):
    return next(c for c in dialog.cards if os.path.basename(c.path) == name)


def test_gallery_shows_given_and_suggested_and_decisions_undo(results, qtbot, flipped):
    before = snapshot(flipped)
    dialog = reviewed(results, qtbot)
    card = card_of(dialog, "really_red.png")
    assert "labelled (" in card.given.text() and card.given.text().endswith("<b>blue</b>")
    assert card.suggested.text().startswith("looks like (")
    assert card.suggested.text().endswith("<b>red</b>")
    assert card.relabel_button.text() == "Relabel as red"
    assert "half of such flags" in dialog.findChildren(type(card.given))[0].text()
    assert "Train again to use your corrections" in dialog.retrain.text()
    qtbot.waitUntil(lambda: dialog.hub.shown() == len(dialog.cards), timeout=TIMEOUT)
    state = results.state
    blue = state.dataset.counts()["blue"]["train"] + state.dataset.counts()["blue"]["val"] \
        + state.dataset.counts()["blue"]["test"]

    card.relabel_button.click()
    assert state.corrections.relabelled == {os.path.join("blue", "really_red.png"): "red"}
    assert sum(state.dataset.counts()["blue"].values()) == blue - 1
    assert card.status.text() == "Counted as 'red' from now on."
    assert card.buttons_holder.isHidden() and not card.undo_button.isHidden()
    card.undo_button.click()
    assert not state.corrections and card.status.text() == ""

    dialog.leave_out(card.path)
    assert state.corrections.excluded == {os.path.join("blue", "really_red.png"):
                                          "likely label error"}
    assert len(state.dataset.samples) == len(state.scanned.samples) - 1
    dialog.undo(card.path)
    dialog.keep(card.path)
    assert card.status.text() == "Kept as it is." and not state.corrections.changes_data
    assert list(state.corrections.kept) == [os.path.join("blue", "really_red.png")]
    dialog.undo(card.path)
    assert card.status.text() == "" and not state.corrections
    assert snapshot(flipped) == before  # only the explicit move touches files


def test_move_asks_never_overwrites_and_undo_moves_back(results, qtbot, flipped):
    dialog = reviewed(results, qtbot)
    card = card_of(dialog, "really_red.png")
    source = flipped / "blue" / "really_red.png"
    squatter = flipped / "red" / "really_red.png"  # the name is taken in the target folder
    squatter.write_bytes(b"not a picture, but the user's file")
    before = snapshot(flipped)
    asked = []
    dialog.ask = lambda parent, path, folder: asked.append((path, folder)) or False
    dialog.move_file(card.path, "red")
    assert asked == [(str(source), str(flipped / "red"))] and snapshot(flipped) == before

    dialog.ask = lambda parent, path, folder: True
    dialog.move_file(card.path, "red")
    moved = flipped / "red" / "really_red (2).png"
    assert moved.is_file() and not source.exists()
    assert squatter.read_bytes() == b"not a picture, but the user's file"
    state = results.state
    sample = next(s for s in state.dataset.samples if s.path == str(moved))
    assert state.dataset.class_names[sample.label] == "red"
    assert card.status.text() == f"Moved to {os.path.join('red', 'really_red (2).png')}."

    card.undo_button.click()
    assert source.is_file() and not moved.exists() and snapshot(flipped) == before
    sample = next(s for s in state.dataset.samples if s.path == str(source))
    assert state.dataset.class_names[sample.label] == "blue" and card.status.text() == ""


def test_the_data_pages_check_is_reused(results, qtbot, flipped, tiny_backbone):
    state = results.state
    path = str(flipped / "blue" / "really_red.png")
    report = DoctorReport(str(flipped), tiny_backbone.name, state.scanned.class_names, {})
    report.label_findings = [LabelFinding(Picture(path, "blue", "train"), "red", 0.1, 0.8, 0.05)]
    state.doctor_report = report
    dialog = results.label_review.open_review()
    assert not dialog.is_running() and [c.path for c in dialog.cards] == [path]
    assert "(80%)" in dialog.cards[0].suggested.text()


def test_no_review_for_a_run_on_another_dataset(results, tmp_path):
    other = make_color_dataset(tmp_path / "other", per_class=6)
    results.state.set_dataset(str(other), scan_dataset(other))
    assert not results.label_review.isEnabled()
    assert "Data step" in results.label_review.toolTip()


def test_training_after_a_correction_uses_it(qtbot, tmp_path, flipped, tiny_backbone,
                                             monkeypatch):
    from transfer_gui.ui.state import AppState
    from transfer_gui.ui.train.train_page import TrainPage

    monkeypatch.setattr("transfer_gui.core.training.engine.default_feature_cache",
                        lambda: FeatureCache())
    state = AppState()
    state.set_dataset(str(flipped), scan_dataset(flipped))
    state.set_backbone(tiny_backbone.name)
    for name, value in {"epochs": 1, "batch_size": 8, "early_stopping_patience": 0}.items():
        state.set_setting(name, value)
    root = str(flipped)
    blank = str(flipped / "green" / "green_000.png")
    state.set_corrections(state.corrections.relabelling(
        root, str(flipped / "blue" / "really_red.png"), "red").excluding(root, blank, "odd"))
    page = TrainPage(state, runs_root=tmp_path / "runs")
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.trainingFinished, timeout=120_000) as done:
        page.start()
    result = done.args[0]
    from transfer_gui.core.run import Run

    recorded = Run(result.run_dir).dataset_summary()
    assert recorded["corrections"] == {"excluded": {os.path.join("green", "green_000.png"): "odd"},
                                       "relabelled": {os.path.join("blue", "really_red.png"):
                                                      "red"}}
    assert recorded["num_samples"] == 59 and recorded["counts"]["red"] == {
        k: v for k, v in state.dataset.counts()["red"].items()}
    assert sum(recorded["counts"]["red"].values()) == 20
    assert sum(recorded["counts"]["blue"].values()) == 20
    assert sum(recorded["counts"]["green"].values()) == 19
    page.shutdown()
