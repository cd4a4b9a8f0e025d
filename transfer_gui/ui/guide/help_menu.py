"""The Help menu's actions: Guide (F1), What do these numbers mean?, Report a problem."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from .guide_dialog import GuideDialog, tr
from .report_problem import ProblemReporter
from ..screen_fit import fit_to_screen


class HelpActions(QObject):
    """Adds the guide and the problem report to `menu`; owns the guide window and the reporter."""

    def __init__(self, window: QMainWindow, menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.guide: Optional[GuideDialog] = None
        self.reporter = ProblemReporter(self)
        self.reporter.finished.connect(self._on_report)
        self.guide_action = QAction(tr("&Guide"), window, shortcut=QKeySequence.StandardKey.HelpContents,
                                    toolTip=tr("A short walk through the six steps"))
        self.guide_action.triggered.connect(lambda: self.open_guide())
        self.numbers_action = QAction(tr("&What do these numbers mean?"), window)
        self.numbers_action.triggered.connect(lambda: self.open_guide(numbers=True))
        self.report_action = QAction(tr("&Report a problem…"), window, toolTip=tr(
            "Run the self-test and copy its report to the clipboard, to paste into a message"))
        self.report_action.triggered.connect(self.report_problem)
        for action in (self.guide_action, self.numbers_action, self.report_action):
            menu.addAction(action)
        menu.addSeparator()

    def open_guide(self, numbers: bool = False) -> GuideDialog:
        """Show the guide (one window, reused), on its first screen or on the numbers page."""
        if self.guide is None:
            self.guide = GuideDialog(self.window)
            fit_to_screen(self.guide, 860, 600)
        if numbers:
            self.guide.show_numbers()
        else:
            self.guide.show_screen(0)
        self.guide.show()
        self.guide.raise_()
        return self.guide

    def report_problem(self) -> None:
        if self.reporter.start():
            self.report_action.setEnabled(False)
            self.window.statusBar().showMessage(tr(
                "Collecting a report: the self-test runs in the background (about a minute)…"))

    def _on_report(self, text: str, ok: bool) -> None:
        self.report_action.setEnabled(True)
        self.window.statusBar().showMessage(tr("The report is on the clipboard."), 10000)
        box = QMessageBox(QMessageBox.Icon.Information if ok else QMessageBox.Icon.Warning,
                          tr("Report a problem"), tr(
                              "The report is on the clipboard. Paste it into your message, and "
                              "say what you did and what happened."), QMessageBox.StandardButton.Ok,
                          self.window)
        box.setObjectName("reportCopiedDialog")
        box.setDetailedText(text)
        box.open()

    def shutdown(self) -> None:
        self.reporter.stop()
