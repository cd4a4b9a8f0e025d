"""The data doctor in the app (issue 14): the job's events, and the Data page's "Check data…" on
a generated dataset with planted copies, a leak, a label conflict and a blank picture. Each fix
changes the project's corrections and the page's counts, Undo (and Ctrl+Z) restores them, and no
file on disk changes."""

from __future__ import annotations

import shutil
import time

import pytest
from PIL import Image

from synthetic import make_color_dataset
from transfer_gui.core.data import scan_dataset
from transfer_gui.core.doctor import DoctorReport
from transfer_gui.core.jobs.doctor import doctor_job, label_review_job
from transfer_gui.core.jobs.state import RecordingState

TIMEOUT = 60_000


def planted(root):
    """train/val colour classes plus: a leak (train red -> val), two copies in green, the same
    photo in red and blue (a label conflict), and a blank picture in red."""
    make_color_dataset(root, per_class=12, layout="splits")
    train, val = root / "train", root / "val"
    shutil.copy(train / "red" / "red_000.png", val / "red" / "leaked.png")
    shutil.copy(train / "green" / "green_001.png", train / "green" / "again.png")
    shutil.copy(train / "blue" / "blue_002.png", train / "red" / "also_red.png")
    Image.new("RGB", (48, 48), (128, 128, 128)).save(train / "red" / "blank.png")
    return root


@pytest.fixture(autouse=True)
def _fresh_feature_cache(monkeypatch):
    """An in-memory feature cache per test (a main window of an earlier test may have pointed
    the process-wide one at its data folder)."""
    from transfer_gui.core.features import FeatureCache

    cache = FeatureCache()
    monkeypatch.setattr("transfer_gui.core.jobs.doctor.default_feature_cache", lambda: cache)


def snapshot(root):
    """Every file under `root` with its size and modification time."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file()}


def test_doctor_job_reports_progress_and_every_planted_problem(tmp_path, tiny_backbone):
    root = planted(tmp_path / "d")
    scan = scan_dataset(root)
    state = RecordingState()
    report = doctor_job(state, scan, tiny_backbone.name)
    assert isinstance(report, DoctorReport)
    fractions = [p.fraction for p in state.progresses if p.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"hash", "features", "copies", "labels", "done"} <= {p.stage for p in state.progresses}
    assert any(p.eta_seconds is not None for p in state.progresses)
    problems = {g.problem: {p.path for p in g.pictures} for g in report.copy_groups}
    assert problems["leak"] == {str(root / "train/red/red_000.png"),
                                str(root / "val/red/leaked.png")}
    assert problems["copies"] == {str(root / "train/green/green_001.png"),
                                  str(root / "train/green/again.png")}
    assert problems["label conflict"] == {str(root / "train/blue/blue_002.png"),
                                          str(root / "train/red/also_red.png")}
    assert (str(root / "train/red/blank.png"), "almost uniform") in {
        (o.picture.path, o.reason) for o in report.odd_pictures}


def test_doctor_job_stops_when_cancelled(tmp_path, tiny_backbone):
    from transfer_gui.core.errors import Cancelled

    scan = scan_dataset(planted(tmp_path / "d"))
    state = RecordingState()
    state.cancel.cancel()
    with pytest.raises(Cancelled):
        doctor_job(state, scan, tiny_backbone.name)


def test_label_review_job_names_given_and_suggested_classes(tmp_path, tiny_backbone):
    root = make_color_dataset(tmp_path / "d", per_class=20)
    (root / "red" / "red_003.png").rename(root / "blue" / "really_red.png")
    state = RecordingState()
    review = label_review_job(state, scan_dataset(root), tiny_backbone.name)
    assert review.root == str(root) and review.backbone == tiny_backbone.name
    assert state.progresses[-1].fraction == 1.0
    flipped = [f for f in review.findings if f.picture.path.endswith("really_red.png")]
    assert flipped and flipped[0].picture.class_name == "blue" and flipped[0].suggested == "red"
    assert flipped[0].suggested_probability > flipped[0].given_probability


# ------------------------------------------------------------------------------ the Data page
@pytest.fixture
def page(qtbot, settings, tiny_backbone):
    from transfer_gui.ui.data.data_page import DataPage
    from transfer_gui.ui.state import AppState

    state = AppState()
    state.set_backbone(tiny_backbone.name)
    page = DataPage(state, settings)
    qtbot.addWidget(page)
    page.resize(1366, 768)
    page.show()
    yield page
    page.shutdown()


def checked(page, qtbot, root):
    page.open_folder(str(root))
    qtbot.waitUntil(lambda: page.state.dataset is not None, timeout=TIMEOUT)
    assert page.doctor_button.isEnabled()
    dialog = page.doctor_button.open_check()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: all(r.isVisibleTo(dialog) for r in dialog.rows))  # shown queued
    return dialog


def row_of(dialog, problem_words):
    return next(r for r in dialog.rows if problem_words in r.title.text())


def counts(page, class_name):
    return page.state.dataset.counts()[class_name]


def test_fixes_change_corrections_and_counts_and_undo_restores_them(page, qtbot, tmp_path):
    root = planted(tmp_path / "d")
    before = snapshot(root)
    dialog = checked(page, qtbot, root)
    assert page.state.doctor_report is dialog.report
    # leak, conflict, copies; the blank picture once, for both reasons (almost uniform, unlike
    # every class)
    assert len(dialog.rows) == 4
    assert counts(page, "red") == {"train": 10, "val": 5, "test": 0}
    assert "10 images" not in page.summary.size_label.text()
    total = len(page.state.dataset.samples)

    leak = row_of(dialog, "Leak")
    assert len(leak.findChildren(type(leak.title))) >= 3  # title, detail, thumbnails...
    leak.action_box.findChildren(type(leak.undo_button))[0].click()
    assert page.state.corrections.excluded == {
        "val/red/leaked.png": "a copy of a training picture in validation/test"}
    assert counts(page, "red") == {"train": 10, "val": 4, "test": 0}
    assert page.summary.size_label.text().endswith(f"{total - 1} images")
    assert leak.undo_button.isVisibleTo(dialog) and "leaked.png left out" in leak.status.text()
    assert page.skipped_group.isVisibleTo(page)  # listed with its reason on the page

    copies = row_of(dialog, "Copies in one class")
    copies.action_box.findChildren(type(leak.undo_button))[0].click()
    assert counts(page, "green")["train"] == 8

    conflict = row_of(dialog, "Label conflict")
    combo = conflict.action_box.findChildren(__import__("PySide6.QtWidgets").QtWidgets.QComboBox)[0]
    combo.setCurrentText("blue")
    keep = [b for b in conflict.action_box.findChildren(type(leak.undo_button))
            if b.text().startswith("Keep")][0]
    keep.click()
    assert page.state.corrections.relabelled == {"train/red/also_red.png": "blue"}
    assert counts(page, "blue")["train"] == 9 and counts(page, "red")["train"] == 9

    blank = row_of(dialog, "Almost uniform")
    blank.action_box.findChildren(type(leak.undo_button))[0].click()
    assert counts(page, "red")["train"] == 8
    assert len(page.state.dataset.samples) == total - 3
    assert row_of(dialog, "Unlike every class").undo_button.isVisibleTo(dialog)  # same picture

    blank.undo_button.click()  # Undo of one finding
    assert counts(page, "red")["train"] == 9 and not blank.undo_button.isVisibleTo(dialog)
    dialog.undo_last()  # Ctrl+Z: the latest fix still in place (the relabel)
    assert page.state.corrections.relabelled == {}
    assert counts(page, "red")["train"] == 10 and counts(page, "blue")["train"] == 8
    dialog.undo_last()
    dialog.undo_last()
    assert not page.state.corrections and len(page.state.dataset.samples) == total
    assert counts(page, "red") == {"train": 10, "val": 5, "test": 0}
    assert snapshot(root) == before  # nothing on disk changed


def test_thumbnails_side_by_side_and_a_new_folder_forgets_the_findings(page, qtbot, tmp_path):
    root = planted(tmp_path / "d")
    dialog = checked(page, qtbot, root)
    qtbot.waitUntil(lambda: dialog.hub.shown() == 7, timeout=TIMEOUT)  # 3 pairs + 1 blank
    leak = row_of(dialog, "Leak")
    images = [w for w in leak.findChildren(type(leak.title)) if w.pixmap() is not None
              and not w.pixmap().isNull()]
    first, second = (w.mapTo(leak, w.rect().topLeft()) for w in images)
    assert len(images) == 2 and first.y() == second.y() and first.x() + 112 <= second.x()
    other = make_color_dataset(tmp_path / "other", per_class=6)
    page.open_folder(str(other))
    qtbot.waitUntil(lambda: page.state.dataset is not None, timeout=TIMEOUT)
    assert page.state.doctor_report is None and dialog.report is None and not dialog.rows


def test_corrections_are_saved_in_the_project_and_restored(qtbot, make_window, tmp_path,
                                                           tiny_backbone):
    root = planted(tmp_path / "d")
    first = make_window(runs_root=tmp_path / "runs", settings="s.ini")
    first.data_page.open_folder(str(root))
    qtbot.waitUntil(lambda: first.state.dataset is not None, timeout=TIMEOUT)
    total = len(first.state.dataset.samples)
    first.state.set_corrections(first.state.corrections.excluding(
        str(root), str(root / "val/red/leaked.png"), "a copy"))
    assert first.projects.dirty  # a correction is a change to save
    path = tmp_path / "p.tgproj"
    assert first.projects.save_to(path) and not first.projects.dirty

    second = make_window(runs_root=tmp_path / "runs", settings="s.ini")
    assert second.projects.open(str(path)) and not second.projects.dirty
    qtbot.waitUntil(lambda: second.state.dataset is not None, timeout=TIMEOUT)
    assert second.state.corrections.excluded == {"val/red/leaked.png": "a copy"}
    assert len(second.state.dataset.samples) == total - 1
    assert second.data_page.summary.size_label.text().endswith(f"{total - 1} images")


def test_shortcut_opens_the_check_and_stop_stops_it(page, qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    import transfer_gui.ui.data.doctor_dialog as doctor_dialog

    def slow_job(state, scan, backbone):  # stands in for the check: waits to be stopped
        while True:
            state.cancel.raise_if_cancelled()
            time.sleep(0.01)

    monkeypatch.setattr(doctor_dialog, "doctor_job", slow_job)
    page.open_folder(str(planted(tmp_path / "d")))
    qtbot.waitUntil(lambda: page.state.dataset is not None, timeout=TIMEOUT)
    page.activateWindow()
    page.class_table.setFocus()
    QTest.keyClick(page.class_table, Qt.Key.Key_D,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = page.doctor_button.dialog
    assert dialog is not None and dialog.is_running()
    assert dialog.stop_button.isVisibleTo(dialog) and not dialog.again_button.isVisibleTo(dialog)
    dialog.stop_button.click()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=TIMEOUT)
    assert dialog.summary.text().startswith("Check stopped")
    assert dialog.again_button.isVisibleTo(dialog) and page.state.doctor_report is None
