"""What a look at the data doctor's and the Predict page's screens at 1366x768 found (issue 14),
checked offscreen: plain summary words with plurals, one finding per odd picture (not one per
reason), the thumbnail beside a one-picture finding, the leak's fix naming its split, a Tab order
that reads top to bottom, Enter not re-running the check, long class names elided (not widening a
row or squeezing a column), the confidence threshold in percent and "Top 2" for two classes."""

from __future__ import annotations

import time

import pytest
from PIL import Image

from transfer_gui.core.doctor import CopyGroup, DoctorReport, LabelFinding, OddPicture, Picture

LONG = "pink discs and squares that were scanned at a very high resolution"  # 66 letters


@pytest.fixture
def report(tmp_path):
    """A leak (train -> val), a label conflict between a short and a 66-letter class, a label
    finding, and one nearly black picture found odd for two reasons."""
    paths = {}
    for rel, colour in (("train/red/a.png", (200, 40, 40)), ("val/red/a copy.png", (200, 40, 40)),
                        ("train/red/b.png", (40, 40, 200)), (f"train/{LONG}/b.png", (40, 40, 200)),
                        ("train/red/black.png", (2, 2, 2))):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 64), colour).save(path)
        paths[rel] = str(path)

    def pic(rel):
        return Picture(paths[rel], rel.split("/")[1], rel.split("/")[0])

    black = pic("train/red/black.png")
    return DoctorReport(
        root=str(tmp_path), backbone="tiny_test", class_names=["red", LONG], counts={},
        copy_groups=[CopyGroup((pic("train/red/a.png"), pic("val/red/a copy.png")), True, 1.0),
                     CopyGroup((pic("train/red/b.png"), pic(f"train/{LONG}/b.png")), True, 1.0)],
        label_findings=[LabelFinding(pic("train/red/a.png"), LONG, 0.1, 0.9, 0.1)],
        odd_pictures=[OddPicture(black, "unlike every class",
                                 "its nearest pictures are 0.22 alike (typical: 0.94)"),
                      OddPicture(black, "almost uniform", "brightness varies by only 0.0 of 255")],
        seconds=3.0)


@pytest.fixture
def dialog(qtbot, report):
    from transfer_gui.ui.data.doctor_dialog import DoctorDialog
    from transfer_gui.ui.state import AppState

    dialog = DoctorDialog(AppState())
    qtbot.addWidget(dialog)
    dialog.show()  # its default size, 1000x640
    dialog.show_report(report)
    qtbot.waitUntil(lambda: all(r.isVisibleTo(dialog) for r in dialog.rows))
    yield dialog
    dialog.shutdown()


def row_of(dialog, words):
    return next(r for r in dialog.rows if words in r.title.text())


def buttons_of(row):
    from PySide6.QtWidgets import QPushButton

    return [w for w in row.focus_chain() if isinstance(w, QPushButton) and w.isVisibleTo(row)]


def test_summary_in_plain_words_and_one_row_per_odd_picture(dialog):
    text = dialog.summary.text()
    assert text.startswith("Found 2 groups of copies (1 leak, 1 label conflict), 1 likely label "
                           "error and 1 odd picture")
    assert "(s)" not in text
    odd = [r for r in dialog.rows if len(r.pictures) == 1]
    assert len(odd) == 1  # the nearly black picture once, with both reasons, pixels first
    assert odd[0].title.text() == "<b>Almost uniform · Unlike every class</b>"
    assert odd[0].detail.text() == ("Brightness varies by only 0.0 of 255.\n"
                                    "Its nearest pictures are 0.22 alike (typical: 0.94).")
    assert [b.text() for b in buttons_of(odd[0])] == ["Leave out"]
    assert [b.text() for b in buttons_of(row_of(dialog, "Leak"))] == [
        "Take the copy out of validation"]


def test_one_picture_finding_has_its_thumbnail_beside_the_words(dialog, qtbot):
    from PySide6.QtWidgets import QLabel

    odd = next(r for r in dialog.rows if len(r.pictures) == 1)
    leak = row_of(dialog, "Leak")
    image = next(w for w in odd.findChildren(QLabel) if w.width() == w.height() == 112)
    left = image.mapTo(odd, image.rect().topRight()).x()
    assert left < odd.title.mapTo(odd, odd.title.rect().topLeft()).x()  # beside, not above
    assert odd.height() < leak.height()


def test_tab_goes_top_to_bottom_and_enter_does_not_check_again(dialog, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QComboBox

    chain, widget = [], dialog.again_button
    while widget is not dialog.close_button and len(chain) < 50:
        chain.append(widget)
        widget = widget.nextInFocusChain()
    expected = [dialog.again_button] + [w for r in dialog.rows for w in r.focus_chain()]
    assert chain == expected  # "Check again", the findings top to bottom, then Close

    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.again_button.setFocus()  # Tab passes it on the way to a finding's class box
    combo = row_of(dialog, "Label conflict").action_box.findChild(QComboBox)
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    QTest.keyClick(combo, Qt.Key.Key_Return)  # Close, not "Check again" (minutes of work)
    assert not dialog.isVisible()


def test_long_class_name_is_elided_in_the_conflict_row(dialog):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QComboBox

    conflict = row_of(dialog, "Label conflict")
    combo = conflict.action_box.findChild(QComboBox)
    assert combo.findText(LONG) >= 0
    assert combo.width() < combo.fontMetrics().horizontalAdvance(LONG)
    assert combo.itemData(combo.findText(LONG), Qt.ItemDataRole.ToolTipRole) == LONG
    assert conflict.action_box.sizeHint().width() < dialog.width() - 60


def test_threshold_in_percent_and_top_header_counts_the_classes(qtbot):
    from PySide6.QtTest import QTest

    from transfer_gui.core.predict import Prediction
    from transfer_gui.ui.predict.predict_table import COL_TOP, PredictionTable, ThresholdBox

    box = ThresholdBox(0.7)
    qtbot.addWidget(box)
    assert box.text() == "70%" and box.value() == pytest.approx(0.7)
    box.lineEdit().selectAll()
    QTest.keyClicks(box, "55.5")
    box.interpretText()
    assert box.value() == pytest.approx(0.555) and box.text() == "55.5%"
    table = PredictionTable(0.7)
    qtbot.addWidget(table)
    table.append_predictions([Prediction("/x/a.png", "ants", 0.9, (("ants", 0.9), ("bees", 0.1)),
                                         unlike_score=0.5, unlike_training=False)])
    assert table.horizontalHeaderItem(COL_TOP).text() == "Top 2"


def test_shift_table_keeps_room_for_the_comparison_beside_a_long_class_name(qtbot, tmp_path,
                                                                              monkeypatch):
    from transfer_gui.core.shift import ClassShift, MMDTest, ShiftReport
    from transfer_gui.ui.predict import shift_dialog

    test = MMDTest(0.03, 0.012, 16, 7, 1000, 1.0)
    report = ShiftReport(overall=MMDTest(0.03, 0.003, 195, 31, 1000, 1.0), per_class=[
        ClassShift("blue", 16, 3, None), ClassShift(LONG, 17, 7, test, 0.012)],
        new_images=31, compared_new=31, reference_images=195, compared_reference=195)
    def job(state, model, folder):  # the comparison, once the test has looked at the empty table
        while not go:
            state.cancel.raise_if_cancelled()
            time.sleep(0.01)
        return report

    go = []
    monkeypatch.setattr(shift_dialog, "shift_job", job)
    dialog = shift_dialog.ShiftDialog(tmp_path / "model.pt", str(tmp_path))
    qtbot.addWidget(dialog)
    dialog.show()  # its default size, 780x520
    table = dialog.table
    header = table.horizontalHeader()
    assert dialog.is_running() and table.columnWidth(0) >= header.sectionSizeHint(0)  # "Class"
    go.append(True)
    qtbot.waitUntil(lambda: dialog.report is not None and not dialog.is_running())
    assert table.columnWidth(0) <= 0.4 * table.viewport().width() + 1
    words = table.item(0, 3).text()
    assert words == "not compared: fewer than 5 images"
    assert table.columnWidth(3) >= table.fontMetrics().horizontalAdvance(words)
    assert table.item(1, 0).toolTip() == LONG
    dialog.reject()
