"""The Results page's "Likely label errors…": a ranked gallery of the pictures whose label is
probably wrong (core/doctor/labels.py: confident learning on out-of-fold probabilities of the
shown run's backbone features), each with the label it has and the one it looks like.

The ranking comes from the Data page's "Check data…" when that checked the same dataset with the
same backbone, else from `label_review_job` (seconds once the features are cached). Decisions
are corrections in the project (AppState.set_corrections): relabel and leave out are used by the
next training; "Keep" changes no data but is remembered too (DataCorrections.kept), so a kept
picture is not shown as undecided again after the dialog or the project is reopened. The file
is moved into the suggested class's folder only on request, after a confirmation, and Undo moves
it back (core/doctor/move.py: nothing is overwritten).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QGridLayout, QHBoxLayout, QLabel,
                               QMessageBox, QProgressBar, QPushButton, QScrollArea, QVBoxLayout,
                               QWidget)

from transfer_gui.core.data.corrections import DataCorrections
from transfer_gui.core.doctor.move import (MoveError, class_folder, move_back, move_picture,
                                           scan_with_move)
from transfer_gui.core.jobs import Progress
from transfer_gui.core.jobs.doctor import LabelReviewResult, label_review_job
from transfer_gui.ui.data.doctor_dialog import STYLE
from transfer_gui.ui.data.doctor_rows import ThumbnailHub
from transfer_gui.ui.error_dialog import plain_message
from transfer_gui.ui.state import AppState
from transfer_gui.ui.workers import JobHost

from .label_review_card import LabelCard

THUMB, COLUMNS = 96, 3
LEFT_OUT_WHY = "likely label error"
KEPT_WHY = "likely label error: the label is right"


def ask_to_move(parent: QWidget, path: str, folder: str) -> bool:
    """The confirmation before a file is moved."""
    return QMessageBox.question(
        parent, parent.tr("Move the file?"),
        parent.tr("Move {0}\ninto {1}?\n\nThe file is moved on disk (nothing is overwritten); "
                  "Undo moves it back.").format(path, folder)) == QMessageBox.StandardButton.Yes


class LabelReviewDialog(QDialog, JobHost):
    def __init__(self, state: AppState, parent: Optional[QWidget] = None,
                 ask: Callable[[QWidget, str, str], bool] = ask_to_move) -> None:
        super().__init__(parent)
        self.state, self.ask = state, ask
        self.review: Optional[LabelReviewResult] = None
        self.cards: list[LabelCard] = []
        self.moved: dict[str, tuple[str, str]] = {}  # old path -> (new path, old class)
        self.setWindowTitle(self.tr("Likely label errors"))
        self.setStyleSheet(STYLE)
        self.runner = self.make_runner(progress=self._on_progress, finished=self.show_review,
                                       failed=self._on_failed, cancelled=self._on_cancelled,
                                       stopped=lambda: self._set_running(False))
        self.hub = ThumbnailHub(THUMB, self)
        intro = QLabel(self.tr(
            "Pictures whose label looks wrong, the most doubtful first: each was scored by a "
            "model that never saw it. This is a review list, not a verdict: about half of such "
            "flags are usually real label errors, so look at each picture before you decide."),
            wordWrap=True)
        self.summary = QLabel(wordWrap=True)
        self.summary.setStyleSheet("font-weight: 600;")
        self.progress_bar = QProgressBar(minimum=0, maximum=1000)
        self.stop_button = QPushButton(self.tr("&Stop"), clicked=self.runner.cancel,
                                       toolTip=self.tr("Stop looking for label errors"))
        running = QHBoxLayout()
        running.addWidget(self.progress_bar, 1)
        running.addWidget(self.stop_button)
        self.grid_widget = QWidget()
        self.grid = QGridLayout(self.grid_widget)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.grid_widget)
        self.retrain = QLabel(self.tr("Train again to use your corrections: relabelled and "
                                      "left-out pictures count from the next training on."),
                              wordWrap=True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.retrain, 1)
        bottom.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.summary)
        layout.addLayout(running)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)
        state.correctionsChanged.connect(self._show_decisions)
        self.resize(1220, 660)
        self._set_running(False)

    # ------------------------------------------------------------------ finding them
    def start(self, backbone: str) -> None:
        """Rank the open dataset's labels with `backbone`, reusing the Data page's check of the
        same dataset and backbone when there is one."""
        scan = self.state.scanned
        report = self.state.doctor_report
        if scan is None:
            return
        if report is not None and report.root == scan.root and report.backbone == backbone:
            self.show_review(LabelReviewResult(report.root, backbone, report.label_findings,
                                               report.label_check_note, len(report.skipped)))
            return
        self.summary.setText(self.tr("Looking for likely label errors in {0} pictures…").format(
            len(scan.samples)))
        self._set_running(True)
        self.runner.start(label_review_job, scan, backbone)

    def is_running(self) -> bool:
        return self.runner.is_running()

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.hub.loader.shutdown()

    def reject(self) -> None:
        self.runner.cancel()
        super().reject()

    def _set_running(self, running: bool) -> None:
        self.progress_bar.setVisible(running)
        self.stop_button.setVisible(running)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        if progress.fraction is not None:
            self.progress_bar.setValue(int(progress.fraction * 1000))
        self.progress_bar.setFormat(f"%p%  {progress.message}")

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.summary.setText(self.tr("The label check could not run: {0}").format(
            plain_message(message)))
        self.summary.setToolTip("\n\n".join(p for p in (message, details) if p))

    @Slot(object)
    def _on_cancelled(self, _result) -> None:
        self.summary.setText(self.tr("Stopped."))

    @Slot(object)
    def show_review(self, review: LabelReviewResult) -> None:
        self.review = review
        self.hub.forget_labels()
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        found = review.findings
        self.summary.setText(review.note or (self.tr(
            "{0} pictures may be labelled wrongly.").format(len(found)) if found else self.tr(
            "No likely label errors found: every label agrees with what the pictures look like.")))
        classes = self.state.scanned.class_names if self.state.scanned else []
        for rank, finding in enumerate(found, start=1):
            card = LabelCard(rank, finding, review.root, classes, self.hub)
            card.relabelRequested.connect(self.relabel)
            card.leaveOutRequested.connect(self.leave_out)
            card.keepRequested.connect(self.keep)
            card.moveRequested.connect(self.move_file)
            card.undoRequested.connect(self.undo)
            self.grid.addWidget(card, (rank - 1) // COLUMNS, (rank - 1) % COLUMNS)
            self.cards.append(card)
        self.grid.setRowStretch(len(found) // COLUMNS + 1, 1)
        self.grid.setColumnStretch(COLUMNS, 1)
        self._show_decisions()
        self.hub.load()

    # ------------------------------------------------------------------ decisions
    def _root(self) -> str:
        return self.review.root

    def relabel(self, path: str, class_name: str) -> None:
        self.state.set_corrections(self.state.corrections.relabelling(self._root(), path,
                                                                      class_name))

    def leave_out(self, path: str) -> None:
        self.state.set_corrections(self.state.corrections.excluding(self._root(), path,
                                                                    LEFT_OUT_WHY))

    def keep(self, path: str) -> None:
        self.state.set_corrections(self.state.corrections.keeping(self._root(), path, KEPT_WHY))

    def move_file(self, path: str, class_name: str) -> None:
        """Move the file into `class_name`'s folder, after asking; the app follows it."""
        scan = self.state.scanned
        card = self._card(path)
        if scan is None or card is None:
            return
        try:
            if not self.ask(self, path, class_folder(scan, path, class_name)):
                return
            new = move_picture(scan, path, class_name)
        except MoveError as error:
            card.show_decision(str(error))
            return
        self.moved[path] = (new, card.finding.picture.class_name)
        self.state.set_dataset(self.state.data_dir, scan_with_move(scan, path, new, class_name))
        self.state.set_corrections(self.state.corrections.undoing(self._root(), path))

    def undo(self, path: str) -> None:
        if path in self.moved:
            new, old_class = self.moved[path]
            try:
                move_back(new, path)
            except MoveError as error:
                self._card(path).show_decision(str(error))
                return
            del self.moved[path]
            self.state.set_dataset(self.state.data_dir, scan_with_move(
                self.state.scanned, new, path, old_class))
            self.state.set_corrections(self.state.corrections)
            return
        self.state.set_corrections(self.state.corrections.undoing(self._root(), path))

    def _card(self, path: str) -> Optional[LabelCard]:
        return next((c for c in self.cards if c.path == path), None)

    def decision(self, path: str) -> str:
        """What was decided for `path`, in words ("" for nothing)."""
        key = DataCorrections.key(self._root(), path)
        corrections = self.state.corrections
        if path in self.moved:
            return self.tr("Moved to {0}.").format(os.path.relpath(self.moved[path][0],
                                                                   self._root()))
        if key in corrections.excluded:
            return self.tr("Left out from now on.")
        if key in corrections.relabelled:
            return self.tr("Counted as '{0}' from now on.").format(corrections.relabelled[key])
        return self.tr("Kept as it is.") if key in corrections.kept else ""

    @Slot()
    def _show_decisions(self) -> None:
        for card in self.cards:
            card.show_decision(self.decision(card.path))
        corrected = self.state.corrections.changes_data or bool(self.moved)
        self.retrain.setStyleSheet("font-weight: 600;" if corrected else "")


class LabelReviewButton(QPushButton):
    """"Likely label errors…": for a run trained on the open dataset; opens the dialog."""

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(self.tr("Likely label &errors…"), parent)
        self.state = state
        self.dialog: Optional[LabelReviewDialog] = None
        self.clicked.connect(self.open_review)
        for signal in (state.resultChanged, state.datasetChanged):
            signal.connect(self._update)
        self._update()

    def _backbone(self) -> Optional[str]:
        result, scan = self.state.result, self.state.scanned
        if result is None or scan is None:
            return None
        same = Path(result.config.data_dir).resolve() == Path(scan.root).resolve()
        return result.config.backbone if same else None

    def _update(self) -> None:
        usable = self._backbone() is not None
        self.setEnabled(usable)
        self.setToolTip(self.tr(
            "Pictures whose label is probably wrong, ranked, with the class each looks like: "
            "relabel, leave out or keep them") if usable else self.tr(
            "Open this run's dataset on the Data step to review its labels"))

    def open_review(self) -> Optional[LabelReviewDialog]:
        backbone = self._backbone()
        if backbone is None:
            return None
        if self.dialog is None:
            self.dialog = LabelReviewDialog(self.state, self.window())
        review = self.dialog.review
        if self.dialog.is_running() is False and (review is None or review.backbone != backbone
                                                  or review.root != self.state.scanned.root):
            self.dialog.start(backbone)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def shutdown(self) -> None:
        if self.dialog is not None:
            self.dialog.shutdown()
            self.dialog.close()
