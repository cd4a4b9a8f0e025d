""""Keep" on a likely label error is a decision that is remembered (issue 14): a third kind of
correction (DataCorrections.kept) that changes no data, survives closing and reopening the
review and saving and reopening the project, and is undone like the others."""

from __future__ import annotations

import os

import pytest

from fake_runs import write_run
from synthetic import make_color_dataset
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.data.corrections import DataCorrections
from transfer_gui.core.doctor import DoctorReport, LabelFinding, Picture

TIMEOUT = 60_000
RED = os.path.join("blue", "really_red.png")


@pytest.fixture
def flipped(tmp_path):
    """Colour classes; one red picture filed under blue."""
    root = make_color_dataset(tmp_path / "colors", per_class=8)
    (root / "red" / "red_003.png").rename(root / "blue" / "really_red.png")
    return root


def plant_review(state, root, backbone="tiny_test"):
    """A Data page check of `root` with one label finding (the flipped picture), so the review
    shows it at once instead of computing features."""
    path = str(root / "blue" / "really_red.png")
    report = DoctorReport(state.scanned.root, backbone, state.scanned.class_names, {})
    report.label_findings = [LabelFinding(Picture(path, "blue", "train"), "red", 0.1, 0.8, 0.05)]
    state.doctor_report = report
    return path


def test_kept_is_a_correction_that_changes_no_data(flipped):
    scan = scan_dataset(str(flipped), val_fraction=0.2, test_fraction=0.0, seed=1)
    path, other = str(flipped / "blue" / "really_red.png"), str(flipped / "red" / "red_000.png")
    kept = DataCorrections().keeping(scan.root, path, "the label is right")
    assert kept and not kept.changes_data and kept.kept == {RED: "the label is right"}
    assert kept.applied(scan) is scan  # nothing to apply

    both = kept.excluding(scan.root, other, "odd")
    fixed = both.applied(scan)
    assert path in {s.path for s in fixed.samples} and other not in {s.path for s in fixed.samples}
    assert next(s for s in fixed.samples if s.path == path).label == scan.class_names.index("blue")
    assert fixed.corrections == {"excluded": {os.path.join("red", "red_000.png"): "odd"},
                                 "relabelled": {}}  # dataset.json records what changed the data

    assert DataCorrections.from_dict(both.to_dict()) == both  # round trip
    assert both.to_dict()["kept"] == {RED: "the label is right"}
    assert "kept" not in DataCorrections({"a.png": "x"}).to_dict()  # as older files are
    old = DataCorrections.from_dict({"excluded": {"a.png": "x"}, "relabelled": {}})
    assert old == DataCorrections({"a.png": "x"}) and old.kept == {}
    assert DataCorrections.from_dict({"kept": {"a.png": 3, "/b.png": "x", "c.png": "y"}}).kept == \
        {"c.png": "y"}  # malformed entries are dropped one by one

    # one decision per picture: keeping replaces leaving out or relabelling, and the reverse
    assert kept.relabelling(scan.root, path, "red").kept == {}
    assert DataCorrections().excluding(scan.root, path, "x").keeping(scan.root, path, "y") == kept \
        .undoing(scan.root, path).keeping(scan.root, path, "y")
    assert not kept.undoing(scan.root, path)


def test_a_project_keeps_its_kept_pictures(tmp_path, flipped):
    from transfer_gui.core.project import Project, load_project, save_project

    fixes = DataCorrections(kept={RED: "the label is right"})
    saved = save_project(tmp_path / "p.tgproj", Project("p", flipped, [], fixes))
    assert load_project(saved, tmp_path / "open").corrections == fixes


@pytest.fixture
def results(qtbot, tmp_path, flipped, tiny_backbone):
    from transfer_gui.ui.results.results_page import ResultsPage
    from transfer_gui.ui.state import AppState

    state = AppState()
    state.set_dataset(str(flipped), scan_dataset(flipped))
    state.select_run(write_run(tmp_path / "run", flipped))
    page = ResultsPage(state)
    qtbot.addWidget(page)
    yield page
    page.shutdown()


def test_keep_is_still_kept_when_the_review_is_opened_again(results, qtbot, flipped,
                                                            tiny_backbone):
    from transfer_gui.ui.results.label_review import LabelReviewDialog

    state = results.state
    path = plant_review(state, flipped, tiny_backbone.name)
    dialog = results.label_review.open_review()
    card = dialog.cards[0]
    assert card.path == path and card.status.text() == ""
    samples = list(state.dataset.samples)
    next(b for b in card.buttons.findChildren(type(card.undo_button)) if b.text() == "Keep").click()
    assert card.status.text() == "Kept as it is." and card.buttons_holder.isHidden()
    assert state.corrections.kept == {RED: "likely label error: the label is right"}
    assert state.dataset.samples == samples  # nothing changed for training
    assert dialog.retrain.styleSheet() == ""  # nothing to train again for

    dialog.close()
    again = results.label_review.open_review()
    assert again.cards[0].status.text() == "Kept as it is."
    fresh = LabelReviewDialog(state)  # a new dialog knows only the project's corrections
    qtbot.addWidget(fresh)
    fresh.start(tiny_backbone.name)
    assert [c.path for c in fresh.cards] == [path]
    assert fresh.cards[0].status.text() == "Kept as it is."
    assert fresh.cards[0].buttons_holder.isHidden()

    fresh.cards[0].undo_button.click()
    assert not state.corrections and fresh.cards[0].status.text() == ""
    assert again.cards[0].status.text() == ""  # the other dialog follows
    fresh.shutdown()


def test_keep_is_saved_in_the_project_and_shown_after_a_reopen(qtbot, make_window, tmp_path,
                                                              flipped, tiny_backbone):
    from transfer_gui.ui.results.label_review import LabelReviewDialog

    first = make_window(runs_root=tmp_path / "runs", settings="s.ini")
    first.data_page.open_folder(str(flipped))
    qtbot.waitUntil(lambda: first.state.dataset is not None, timeout=TIMEOUT)
    path = plant_review(first.state, flipped, tiny_backbone.name)
    dialog = LabelReviewDialog(first.state, first)
    dialog.start(tiny_backbone.name)
    dialog.keep(path)
    assert dialog.cards[0].status.text() == "Kept as it is."
    assert first.projects.dirty  # a kept picture is a decision to save
    project = tmp_path / "p.tgproj"
    assert first.projects.save_to(project) and not first.projects.dirty
    dialog.shutdown()

    second = make_window(runs_root=tmp_path / "runs", settings="s.ini")
    assert second.projects.open(str(project))
    qtbot.waitUntil(lambda: second.state.dataset is not None, timeout=TIMEOUT)
    assert second.state.corrections.kept == {RED: "likely label error: the label is right"}
    assert len(second.state.dataset.samples) == len(first.state.dataset.samples)
    plant_review(second.state, flipped, tiny_backbone.name)
    reopened = LabelReviewDialog(second.state, second)
    reopened.start(tiny_backbone.name)
    assert reopened.cards[0].status.text() == "Kept as it is."
    reopened.undo(path)
    assert reopened.cards[0].status.text() == "" and not second.state.corrections
    reopened.shutdown()
