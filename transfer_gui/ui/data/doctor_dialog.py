"""The Data page's "Check data…": the data doctor (core/doctor, `doctor_job`) on the scanned
folder, in the background (progress with the time left, Stop), then its findings: copies and
leaks with their thumbnails side by side, odd pictures with their reason, notes on class balance
and split sizes. Each finding offers its fix; every fix is a correction in the project (left
out, or counted as another class: AppState.set_corrections), never a change on disk, and Undo
(per finding, or Ctrl+Z for the last one) takes it back."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QScrollArea, QVBoxLayout, QWidget)

from transfer_gui.core.cli_progress import format_duration
from transfer_gui.core.data.corrections import DataCorrections
from transfer_gui.core.doctor import CopyGroup, DoctorReport, OddPicture
from transfer_gui.core.jobs import Progress
from transfer_gui.core.jobs.doctor import doctor_job
from transfer_gui.ui.error_dialog import plain_message
from transfer_gui.ui.state import AppState
from transfer_gui.ui.workers import JobHost

from .doctor_rows import (THUMB, FindingRow, ThumbnailHub, capitalised, odd_by_picture,
                          split_words, summary_words)

MAX_ROWS = 150  # findings of one kind shown; the rest are counted
TITLES = {"leak": "Leak: the same photo in training and in validation or test",
          "label conflict": "Label conflict: the same photo in different classes",
          "copies": "Copies in one class"}
STYLE = """
QFrame#finding { background: palette(base); border: 1px solid palette(mid); border-radius: 6px; }
QLabel#done { color: #1d6b2f; }
QLabel#section { font-size: 12pt; font-weight: 600; margin-top: 6px; }
"""


class DoctorDialog(QDialog, JobHost):
    """Runs the check on the state's scan and shows what it found, with fixes and Undo."""

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.report: Optional[DoctorReport] = None
        self.rows: list[FindingRow] = []
        self._history: list[list[str]] = []  # the pictures of each fix, for Ctrl+Z
        self.setWindowTitle(self.tr("Check data"))
        self.setStyleSheet(STYLE)
        self.runner = self.make_runner(progress=self._on_progress, finished=self._on_finished,
                                       failed=self._on_failed, cancelled=self._on_cancelled,
                                       stopped=lambda: self._set_running(False))
        self.hub = ThumbnailHub(THUMB, self)
        self.summary = QLabel(wordWrap=True, textInteractionFlags=(
            Qt.TextInteractionFlag.TextSelectableByMouse))
        self.summary.setStyleSheet("font-weight: 600;")
        self.progress_bar = QProgressBar(minimum=0, maximum=1000)
        self.progress_bar.setToolTip(self.tr("How far the check is, and about how long it "
                                             "still takes"))
        self.stop_button = QPushButton(self.tr("&Stop"), clicked=self.runner.cancel,
                                       toolTip=self.tr("Stop checking"))
        self.again_button = QPushButton(self.tr("Check &again"), clicked=self.start,
                                        toolTip=self.tr("Check the folder again (after you "
                                                        "changed files on disk)"))
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.again_button, 0, Qt.AlignmentFlag.AlignTop)
        running = QHBoxLayout()
        running.addWidget(self.progress_bar, 1)
        running.addWidget(self.stop_button)
        self.content = QWidget()
        self.content_layout = QVBoxLayout(self.content)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.content)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        hint = QLabel(self.tr("Fixes change only what training uses (recorded in the project); "
                              "no file is moved or deleted. Ctrl+Z undoes the last fix."),
                      wordWrap=True)
        hint.setStyleSheet("color: palette(dark);")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(running)
        layout.addWidget(scroll, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(hint, 1)
        bottom.addWidget(buttons)
        layout.addLayout(bottom)
        self.close_button.setDefault(True)  # in the dialog now: Enter is not "Check again"
        QShortcut(QKeySequence(QKeySequence.StandardKey.Undo), self, activated=self.undo_last)
        state.correctionsChanged.connect(self._show_corrections)
        self.resize(1000, 640)

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        """Check the state's scan (as found on disk, so fixed findings still show, with Undo)."""
        scan = self.state.scanned
        if scan is None:
            return
        self.clear()
        self.summary.setText(self.tr("Checking {0} pictures for copies, leaks, likely label "
                                     "errors and odd pictures…").format(len(scan.samples)))
        self._set_running(True)
        self.runner.start(doctor_job, scan, self.state.backbone)

    def is_running(self) -> bool:
        return self.runner.is_running()

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.hub.loader.shutdown()

    def reject(self) -> None:  # Close, Escape: stop the check (its findings would be lost)
        self.runner.cancel()
        super().reject()

    def _set_running(self, running: bool) -> None:
        self.progress_bar.setVisible(running)
        self.stop_button.setVisible(running)
        self.again_button.setVisible(not running)
        if running:
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat(self.tr("Starting…"))

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        if progress.fraction is not None:
            self.progress_bar.setValue(int(progress.fraction * 1000))
        left = (self.tr(" · about {0} left").format(format_duration(progress.eta_seconds))
                if progress.eta_seconds is not None else "")
        self.progress_bar.setFormat(f"%p%  {progress.message}{left}")

    @Slot(object)
    def _on_finished(self, report: DoctorReport) -> None:
        self.state.doctor_report = report
        self.show_report(report)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.summary.setText(self.tr("The check could not run: {0}").format(
            plain_message(message)))
        self.summary.setToolTip("\n\n".join(p for p in (message, details) if p))

    @Slot(object)
    def _on_cancelled(self, _result) -> None:
        self.summary.setText(self.tr("Check stopped. Check again to see its findings."))

    # ------------------------------------------------------------------ findings
    def clear(self) -> None:
        self.hub.forget_labels()
        self.rows = []
        while self.content_layout.count():
            item = self.content_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _section(self, text: str, empty: str = "") -> None:
        self.content_layout.addWidget(QLabel(text, objectName="section", wordWrap=True))
        if empty:
            self.content_layout.addWidget(QLabel(empty))

    def _more(self, count: int) -> None:
        if count > MAX_ROWS:
            self.content_layout.addWidget(QLabel(self.tr(
                "…and {0} more: the command “transfer-gui doctor FOLDER” lists them "
                "all.").format(count - MAX_ROWS), wordWrap=True))

    def show_report(self, report: DoctorReport) -> None:
        self.clear()
        self.report = report
        text = self.tr("Found {0} (checked in {1:.0f} s).").format(summary_words(report),
                                                                   report.seconds)
        if report.skipped:
            text += self.tr(" {0} unreadable pictures were not checked.").format(
                len(report.skipped))
        self.summary.setText(text)
        self.summary.setToolTip("")
        self._section(self.tr("Copies and leaks ({0})").format(len(report.copy_groups)),
                      "" if report.copy_groups else self.tr("No copies found."))
        for group in report.copy_groups[:MAX_ROWS]:
            self._add(self._copy_row(group, report.root))
        self._more(len(report.copy_groups))
        odd_pictures = odd_by_picture(report.odd_pictures)
        self._section(self.tr("Odd pictures ({0})").format(len(odd_pictures)),
                      "" if odd_pictures else self.tr("No odd pictures found."))
        for odd in odd_pictures[:MAX_ROWS]:
            self._add(self._odd_row(odd, report.root))
        self._more(len(odd_pictures))
        self._section(self.tr("Class balance and split sizes"))
        notes = report.notes or [self.tr("Class sizes and split sizes look fine.")]
        self.content_layout.addWidget(QLabel("\n".join(f"•  {n}" for n in notes),
                                             wordWrap=True, objectName="notes"))
        self._section(self.tr("Likely label errors ({0})").format(len(report.label_findings)))
        labels = report.label_check_note or self.tr(
            "{0} pictures may be labelled wrongly. Review them after training on the Results "
            "step (“Likely label errors…”), where each shows the label it has and the one it "
            "looks like.").format(len(report.label_findings))
        self.content_layout.addWidget(QLabel(labels, wordWrap=True))
        self.content_layout.addStretch(1)
        self._show_corrections()
        self._tab_order()
        self.hub.load()

    def _tab_order(self) -> None:
        """Tab: "Check again", the findings' buttons top to bottom, Close (made before them)."""
        chain = [self.again_button, *(w for r in self.rows for w in r.focus_chain()),
                 self.close_button]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)

    def _add(self, row: FindingRow) -> None:
        row.finish_actions()
        row.undoRequested.connect(self.undo)
        self.rows.append(row)
        self.content_layout.addWidget(row)

    def _copy_row(self, group: CopyGroup, root: str) -> FindingRow:
        row = FindingRow(self.tr(TITLES[group.problem]), group.describe(), group.pictures, root,
                         self.hub)
        pics = group.pictures
        if group.problem == "leak":
            held_out = [p for p in pics if p.split != "train"]
            where = split_words(held_out)
            row.add_action(self.tr("Take the {0} out of {1}").format(
                "copy" if len(held_out) == 1 else "copies", where), self.tr(
                "Leave the copies in {0} out; the training picture stays").format(where),
                lambda: self.leave_out([p.path for p in held_out],
                                       "a copy of a training picture in validation/test"))
        elif group.problem == "copies":
            row.add_action(self.tr("Leave out the extra copies"), self.tr(
                "Keep {0} and leave the other copies out").format(os.path.basename(pics[0].path)),
                lambda: self.leave_out([p.path for p in pics[1:]],
                                       f"an extra copy of {os.path.basename(pics[0].path)}"))
        else:
            row.add_action(self.tr("Leave them all out"), self.tr(
                "Leave every picture of this group out: its class is unclear"),
                lambda: self.leave_out([p.path for p in pics],
                                       "the same photo labelled as different classes"))
            row.add_class_choice(sorted({p.class_name for p in pics}), lambda name: self.relabel(
                [p.path for p in pics if p.class_name != name], name))
        return row

    def _odd_row(self, odd: list[OddPicture], root: str) -> FindingRow:
        """One picture with every reason it is odd (title "Almost uniform · Unlike every
        class", a line of detail per reason) and one "Leave out"."""
        picture, reasons = odd[0].picture, ", ".join(o.reason for o in odd)
        row = FindingRow(" · ".join(capitalised(o.reason) for o in odd),
                         "\n".join(capitalised(o.detail) + "." for o in odd), [picture],
                         root, self.hub)
        row.add_action(self.tr("Leave out"), self.tr("Leave this picture out of training and "
                                                      "scoring"),
                       lambda: self.leave_out([picture.path], f"odd picture: {reasons}"))
        return row

    # ------------------------------------------------------------------ fixes
    def _root(self) -> str:
        return self.state.scanned.root if self.state.scanned is not None else self.report.root

    def leave_out(self, paths: list[str], why: str) -> None:
        corrections = self.state.corrections
        for path in paths:
            corrections = corrections.excluding(self._root(), path, why)
        self._apply(paths, corrections)

    def relabel(self, paths: list[str], class_name: str) -> None:
        corrections = self.state.corrections
        for path in paths:
            corrections = corrections.relabelling(self._root(), path, class_name)
        self._apply(paths, corrections)

    def _apply(self, paths: list[str], corrections: DataCorrections) -> None:
        if paths:
            self._history.append(list(paths))
        self.state.set_corrections(corrections)

    def undo(self, paths: list[str]) -> None:
        """Remove every correction of `paths`."""
        corrections = self.state.corrections
        for path in paths:
            corrections = corrections.undoing(self._root(), path)
        self.state.set_corrections(corrections)

    def undo_last(self) -> None:
        """Ctrl+Z: undo the latest fix that is still in place."""
        while self._history:
            paths = self._history.pop()
            root, corrections = self._root(), self.state.corrections
            if any(DataCorrections.key(root, p) in corrections.excluded
                   or DataCorrections.key(root, p) in corrections.relabelled for p in paths):
                self.undo(paths)
                return

    @Slot()
    def _show_corrections(self) -> None:
        for row in self.rows:
            row.show_corrections(self.state.corrections)
