"""File > "Follow a run folder…": a window that follows a run another process or machine is
writing (core/follow.py), with its curves live, epochs done of those planned and the time left;
once the run has ended it joins the project like a local one (Results, CAM, Predict, export).
The folder is read once a second on the GUI thread: small files (settings, one line per epoch),
and a read that fails or finds a half-written file is simply tried again."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from transfer_gui.core.errors import UserError
from transfer_gui.core.follow import FollowedRun, RunFollower
from transfer_gui.ui.error_dialog import plain_message
from transfer_gui.ui.model.which_backbone import plain_duration
from transfer_gui.ui.plots import TrainingPlots

POLL_MS = 1000


class FollowWindow(QDialog):
    """Follows one run folder until it ends; `runEnded` gives the run to the project."""

    runEnded = Signal(object)  # the TrainingResult of the ended run

    def __init__(self, destination: Path, load_result: Callable[[Path], object],
                 parent: Optional[QWidget] = None) -> None:
        """`load_result(run_dir)`: the run as the app shows runs (AppState.run_result)."""
        super().__init__(parent)
        self.follower = RunFollower(destination)
        self.load_result = load_result
        self.result = None
        self._shown_epochs = 0
        self.setWindowTitle(self.tr("Following {0}").format(destination.name))
        self.where = QLabel(self.tr("Run folder: {0}").format(destination), wordWrap=True,
                            textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel(self.tr("Waiting for the run to start writing…"), wordWrap=True)
        self.plots = TrainingPlots()
        self.close_button = QPushButton(self.tr("&Close"), clicked=self.close,
                                        toolTip=self.tr("Stop following (the run goes on)"))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.where)
        layout.addWidget(self.status)
        layout.addWidget(self.plots, 1)
        layout.addLayout(buttons)
        self.resize(900, 560)
        self.timer = QTimer(self, interval=POLL_MS, timeout=self.poll)
        self.timer.start()
        self.poll()

    def poll(self) -> FollowedRun:
        state = self.follower.poll()
        rows = state.epochs
        if len(rows) < self._shown_epochs:  # read again from another folder: redraw
            self.plots.clear(state.planned_epochs)
            self._shown_epochs = 0
        if state.planned_epochs and not self._shown_epochs:
            self.plots.set_epochs(state.planned_epochs)
        for row in rows[self._shown_epochs:]:
            self.plots.add_epoch(row)
        self._shown_epochs = len(rows)
        self.plots.flush()
        if state.ended:
            self.timer.stop()
            self._ended(state)
        elif state.source is not None:
            self.status.setText(self._progress_text(state))
        return state

    def _progress_text(self, state: FollowedRun) -> str:
        trained = [r for r in state.epochs if r.get("epoch", 0) > 0]
        planned = state.planned_epochs
        text = self.tr("Training: epoch {0} of {1}").format(len(trained), planned or "?")
        if trained:
            best = max(r.get("val_acc", 0.0) for r in state.epochs)
            text += self.tr(", best validation accuracy {0:.1%}").format(best)
            seconds = [r["seconds"] for r in trained if isinstance(r.get("seconds"), (int, float))]
            if seconds and planned and planned > len(trained):
                left = sum(seconds) / len(seconds) * (planned - len(trained))
                text += self.tr(" · at most about {0} left (early stopping may end it "
                                "sooner)").format(plain_duration(left))
        return text + "."

    def _ended(self, state: FollowedRun) -> None:
        where = state.ended_in or state.destination
        try:
            self.result = self.load_result(where)
        except UserError as exc:
            self.status.setText(self.tr("The run ended, but it cannot be read: {0}").format(
                plain_message(str(exc))))
            return
        if not getattr(self.result, "has_model", False):
            self.status.setText(self.tr("The run ended without a model ({0}).").format(
                state.result.get("stop_reason") or self.tr("no epoch finished")))
            return
        self.status.setText(self.tr("<b>The run has ended</b> ({0}); it is now a run of the "
                                    "project: see Results.").format(html.escape(
                                        str(state.result.get("stop_reason") or "finished"))))
        self.runEnded.emit(self.result)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.timer.stop()
        super().closeEvent(event)
