"""Help > Guide, What do these numbers mean? and Report a problem (issue 12.21)."""

from __future__ import annotations

import json
import sys

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel

from transfer_gui.ui.guide import guide_dialog
from transfer_gui.ui.guide.guide_dialog import GuideDialog
from transfer_gui.ui.guide.guide_text import NUMBERS, STEPS
from transfer_gui.ui.guide.report_problem import ProblemReporter, self_test_command


def visible_text(widget) -> str:
    return " ".join(label.text() for label in widget.findChildren(QLabel))


def test_guide_has_a_screen_with_a_picture_per_step(qtbot):
    dialog = GuideDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    titles = [dialog.contents.item(i).text() for i in range(dialog.contents.count())]
    for step in ("Data", "Model", "Settings", "Train", "Results", "Predict"):
        assert any(step in title for title in titles), step
    assert titles[-1] == "What do these numbers mean?"
    assert dialog.pictures_shown == len(STEPS) == 6  # the pictures ship inside the package
    dialog.show_screen(0)
    dialog.next_button.click()
    assert dialog.current() == 1 and "Model" in visible_text(dialog.screens.currentWidget())
    dialog.show_numbers()
    text = visible_text(dialog.screens.currentWidget())
    for term in ("Accuracy", "95% interval", "Balanced accuracy", "Macro-F1", "Precision",
                 "Recall", "Confusion matrix", "Validation and test"):
        assert term in text, term
    assert not dialog.next_button.isEnabled()
    assert len(NUMBERS) == 8 and all(text.count(". ") <= 2 for _, text in NUMBERS)


def test_guide_without_its_pictures_still_opens(qtbot, monkeypatch):
    monkeypatch.setattr(guide_dialog, "PICTURES", "no/such/folder")
    dialog = GuideDialog()
    qtbot.addWidget(dialog)
    assert dialog.pictures_shown == 0 and dialog.screens.count() == 7


def test_help_menu_opens_the_guide_and_the_numbers(make_window, qtbot):
    window = make_window()
    help_menu = next(a.menu() for a in window.menuBar().actions() if "Help" in a.text())
    texts = [a.text() for a in help_menu.actions()]
    assert "&Guide" in texts and "&What do these numbers mean?" in texts
    assert "&Report a problem…" in texts
    window.help.numbers_action.trigger()
    assert window.help.guide.isVisible()
    assert window.help.guide.current() == window.help.guide.screens.count() - 1
    window.data_page.first_run_hint.open_button.click()
    assert window.help.guide.current() == 0


def test_report_a_problem_copies_the_self_test_report(qtbot, tmp_path):
    report = {"passed": True, "schema": 1, "steps": [{"name": "environment"}]}

    def fake_self_test(path):  # stands in for `transfer-gui --self-test --report PATH`
        code = f"import json,sys; open(sys.argv[1],'w').write(json.dumps({report!r}))"
        return [sys.executable, "-c", code, str(path)]

    reporter = ProblemReporter(command=fake_self_test)
    with qtbot.waitSignal(reporter.finished, timeout=20_000) as signal:
        assert reporter.start()
        assert not reporter.start()  # one at a time
    text, ok = signal.args
    assert ok and json.loads(text) == report
    assert json.loads(QGuiApplication.clipboard().text()) == report


def test_self_test_command_runs_the_self_test(tmp_path):
    command = self_test_command(tmp_path / "r.json")
    assert command[-3:] == ["--self-test", "--report", str(tmp_path / "r.json")]
    assert command[0] == sys.executable
