"""The "Which backbone?" window's "Make an ensemble" row: once the backbones are ranked, the
best three's linear probes are averaged where that beats the best one alone (`ensemble_job`,
core/ensemble: greedy selection on out-of-fold log-loss, kept only where it wins). The run it
writes joins the project like a trained run: Results, CAM (per member), Predict, export."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from transfer_gui.core.jobs.ensemble import ensemble_job
from transfer_gui.core.models import get_backbone
from transfer_gui.core.rank import Ranking
from transfer_gui.ui.error_dialog import plain_message
from transfer_gui.ui.job_progress import JobProgress
from transfer_gui.ui.state import AppState
from transfer_gui.ui.workers import JobHost

CANDIDATES = 3  # the best-ranked backbones offered to the ensemble


class EnsembleRow(QWidget, JobHost, JobProgress):
    """A button, a progress bar and what was built, in plain words."""

    runMade = Signal(object)  # the TrainingResult of the run written

    def __init__(self, state: AppState, class_weights: Callable[[], str],
                 runs_root: Optional[Callable[[], Path]] = None,
                 parent: Optional[QWidget] = None) -> None:
        """`class_weights`: the user's choice, as the ranking used it; `runs_root`: where runs
        go (None: nowhere, the button stays off)."""
        super().__init__(parent)
        self.state = state
        self.class_weights, self.runs_root = class_weights, runs_root
        self.ranking: Optional[Ranking] = None
        self.report = None  # the last EnsembleReport
        self.runner = self.make_runner(progress=self._on_progress, finished=self._on_finished,
                                       failed=self._on_failed, cancelled=self._on_cancelled,
                                       stopped=lambda: self._set_running(False))
        self.button = QPushButton(self.tr("Make an &ensemble of the best"), clicked=self.start)
        self.stop_button = QPushButton(self.tr("S&top"), clicked=self.stop)
        self.progress_bar = QProgressBar(minimum=0, maximum=1000)
        self.outcome = QLabel(wordWrap=True, textInteractionFlags=(
            Qt.TextInteractionFlag.TextSelectableByMouse))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button)
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.stop_button)
        row.addStretch(1)  # the button keeps its size while the bar is hidden
        self._row = row
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.outcome)
        self._set_running(False)
        self.set_ranking(None)

    def candidates(self) -> list[str]:
        return [r.backbone for r in self.ranking.ranked[:CANDIDATES]] if self.ranking else []

    def set_ranking(self, ranking: Optional[Ranking]) -> None:
        """The ranking the ensemble is built from (None: none yet, or a new one running)."""
        self.ranking = ranking
        names = self.candidates()
        self.button.setEnabled(len(names) >= 2 and self.runs_root is not None
                               and not self.is_running())
        if len(names) >= 2:
            self.button.setToolTip(self.tr(
                "Average the answers of {0}'s simple classifiers where that beats the best one "
                "alone; the result is a run of the project like any other").format(
                    " + ".join(get_backbone(n).display_name for n in names)))
        else:
            self.button.setToolTip(self.tr("Rank at least two backbones first: an ensemble "
                                           "averages the best ones."))

    def start(self) -> None:
        names = self.candidates()
        if len(names) < 2 or self.runs_root is None or self.state.dataset is None:
            return
        run_dir = Path(self.runs_root()) / f"{time.strftime('%Y%m%d-%H%M%S')}_ensemble"
        self.report = None
        self.outcome.setText(self.tr("Building an ensemble of {0}…").format(
            " + ".join(get_backbone(n).display_name for n in names)))
        self._set_running(True)
        self.runner.start(ensemble_job, self.state.dataset, run_dir, names,
                          self.class_weights())

    def _set_running(self, running: bool) -> None:
        self.show_running(running)
        self._row.setStretch(3, 0 if running else 1)
        self.button.setEnabled(not running and len(self.candidates()) >= 2
                               and self.runs_root is not None)

    @Slot(object)
    def _on_finished(self, made) -> None:
        report, result = made
        self.report = report
        d = report.decision
        single = get_backbone(report.selection.best_single).display_name
        if report.kept == "ensemble":
            members = " + ".join(get_backbone(n).display_name for n in report.selection.members)
            head = self.tr("<b>Ensemble of {0} kept:</b> validation accuracy {1:.1%}, against "
                           "{2:.1%} for {3} alone.").format(
                html.escape(members), report.saved_val_accuracy, d.single_val_accuracy,
                html.escape(single))
        else:
            head = self.tr("<b>{0} alone is kept:</b> averaging did not beat it ({1}). Its "
                           "validation accuracy: {2:.1%}.").format(
                html.escape(single), html.escape(d.reason), report.saved_val_accuracy)
        self.outcome.setText(head + " " + self.tr(
            "It is now a run of the project: see Results. ({0} s)").format(
                round(report.seconds.get("total", 0))))
        self.outcome.setToolTip(report.summary())
        self.runMade.emit(result)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.outcome.setText(self.tr("The ensemble could not be built: {0}").format(
            plain_message(message)))
        self.outcome.setToolTip("\n\n".join(p for p in (message, details) if p))

    @Slot(object)
    def _on_cancelled(self, _result) -> None:
        self.outcome.setText(self.tr("Stopped: no ensemble was written. Features already "
                                     "computed are kept for the next try."))
