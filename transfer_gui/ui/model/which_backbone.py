"""The Model page's "Which backbone?" window: every backbone whose weights are on this computer
scored on the Data page's pictures (`rank_job`: the linear probe's cross-validated accuracy,
leave-one-out k-NN and LogME, on cached features), in the background with progress and Stop,
then a table best first, the recommendation in plain words, and "Use <backbone>", which makes
the chosen row (the recommended one at first) the Model page's backbone. Backbones whose
weights are not here are named below the table, with where to get them. Closing the window during a ranking
stops it; features already computed stay in the feature cache for the next try."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QCoreApplication, Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from transfer_gui.core.data import DatasetScan
from transfer_gui.core.jobs import Progress
from transfer_gui.core.jobs.rank import rank_job
from transfer_gui.core.models import get_backbone
from transfer_gui.core.rank import BackboneRank, Ranking
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.ui.error_dialog import plain_message
from transfer_gui.ui.job_progress import JobProgress
from transfer_gui.ui.state import AppState
from transfer_gui.ui.workers import JobHost

from .ensemble_row import EnsembleRow

# (header, what it means in one sentence)
COLUMNS = (
    ("Backbone", "The pretrained network that turns each picture into features."),
    ("Probe accuracy", "How often a simple classifier trained on this backbone's features named "
                       "the right class of pictures it had not seen (cross-validation: the mean "
                       "over the folds ± its spread); about what feature extraction reaches."),
    ("k-NN accuracy", "How often the pictures most like a picture (by their features) share its "
                      "class: a check that needs no training."),
    ("LogME", "How well the features predict the classes, estimated without training (You et "
              "al., 2021); higher is better, and it compares backbones only on the same data."),
    ("Seconds", "The time to compute the features (or read them from the cache) and score them."),
)
NAME = Qt.ItemDataRole.UserRole


def plain_duration(seconds: float) -> str:
    """"12 s", "8 min 47 s", "1 h 5 min"."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _time_left(progress: Progress) -> str:
    """" · about 1 min 39 s left for this backbone" while a backbone computes its features (the
    time they take is known from the images done; scoring and timing fine-tuning are not
    estimated: the parts' shares of the bar are not their shares of the time)."""
    if progress.stage != "features" or not progress.eta_seconds or progress.done is None \
            or progress.done == progress.total:
        return ""
    return QCoreApplication.translate("WhichBackboneDialog",
                                      " · about {0} left for this backbone").format(
        plain_duration(progress.eta_seconds))


class WhichBackboneDialog(QDialog, JobHost, JobProgress):
    """Ranks the backbones on the state's dataset and offers the best (or the chosen row)."""

    chosen = Signal(str)  # the registry name of the backbone "Use" picked

    def __init__(self, state: AppState, parent: Optional[QWidget] = None,
                 runs_root: Optional[Callable[[], Path]] = None) -> None:
        """`runs_root`: where an ensemble's run folder goes (None: no ensembles here)."""
        super().__init__(parent)
        self.state = state
        self.ranking: Optional[Ranking] = None
        self.scan: Optional[DatasetScan] = None  # the scan ranked (or being ranked)
        self.setWindowTitle(self.tr("Which backbone?"))
        self.runner = self.make_runner(progress=self._on_progress, finished=self._on_finished,
                                       failed=self._on_failed, cancelled=self._on_cancelled,
                                       stopped=lambda: self._set_running(False))
        intro = QLabel(self.tr(
            "Each backbone whose weights are on this computer turns your pictures into features "
            "once (kept for later), then a simple classifier is tested on them. The first time "
            "takes minutes; after that, seconds."), wordWrap=True)
        self.summary = QLabel(wordWrap=True, textInteractionFlags=(
            Qt.TextInteractionFlag.TextSelectableByMouse))
        self.not_here = QLabel(wordWrap=True, visible=False)  # backbones without weights
        self.progress_bar = QProgressBar(minimum=0, maximum=1000)
        self.progress_bar.setToolTip(self.tr("How far the ranking is, and about how long it "
                                             "still takes"))
        self.stop_button = QPushButton(self.tr("&Stop"), clicked=self.stop,
                                       toolTip=self.tr("Stop ranking (features already computed "
                                                       "are kept for the next time)"))
        running = QHBoxLayout()
        running.addWidget(self.progress_bar, 1)
        running.addWidget(self.stop_button)
        self.table = QTableWidget(0, len(COLUMNS))
        for col, (title, tip) in enumerate(COLUMNS):
            header = QTableWidgetItem(self.tr(title))
            header.setToolTip(self.tr(tip))
            self.table.setHorizontalHeaderItem(col, header)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_use)
        self.table.doubleClicked.connect(lambda _: self.use())
        self.again_button = QPushButton(self.tr("Rank &again"), clicked=self.start,
                                        toolTip=self.tr("Rank again (after you changed the "
                                                        "data or downloaded a backbone)"))
        self.use_button = QPushButton(self.tr("&Use"), clicked=self.use)
        self.ensemble = EnsembleRow(state, self._class_weights, runs_root, self)
        self.close_button = QPushButton(self.tr("&Close"), clicked=self.reject,
                                        toolTip=self.tr("Close (stops a ranking in progress)"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.again_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(running)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.not_here)
        layout.addWidget(self.ensemble)
        layout.addLayout(buttons)
        self.use_button.setDefault(True)
        self._set_running(False)
        self._update_use()
        self.resize(860, 480)

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        """Rank the backbones on the state's dataset (as the Data page shows it)."""
        scan = self.state.dataset
        if scan is None:
            return
        self.scan, self.ranking = scan, None
        self.ensemble.set_ranking(None)
        self.table.setRowCount(0)
        self.not_here.hide()
        self.summary.setText(self.tr("Ranking the backbones on {0} pictures…").format(
            len(scan.samples)))
        self.summary.setToolTip("")
        self._set_running(True)
        self.runner.start(rank_job, scan, None, self._class_weights())

    def _class_weights(self) -> str:
        weights = self.state.settings.get("class_weights", TrainConfig.class_weights)
        return weights if weights in ("auto", "none") else TrainConfig.class_weights

    def is_current(self) -> bool:
        """Whether the shown (or running) ranking is of the dataset the Data page shows now."""
        return self.scan is not None and self.scan is self.state.dataset

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.ensemble.shutdown()

    def reject(self) -> None:  # Close, Escape: stop a ranking or ensemble (features stay cached)
        self.runner.cancel()
        self.ensemble.stop()
        super().reject()

    def _set_running(self, running: bool) -> None:
        self.show_running(running, self.tr("Computing the first backbone's features…"))
        self.again_button.setEnabled(not running)
        self._update_use()

    def _progress_suffix(self, progress: Progress) -> str:
        return _time_left(progress)

    @Slot(object)
    def _on_finished(self, ranking: Ranking) -> None:
        self.show_ranking(ranking)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.summary.setText(self.tr("The backbones could not be ranked: {0}").format(
            plain_message(message)))
        self.summary.setToolTip("\n\n".join(p for p in (message, details) if p))

    @Slot(object)
    def _on_cancelled(self, _result) -> None:
        self.summary.setText(self.tr("Ranking stopped. Rank again to finish it: features "
                                     "already computed are kept."))

    # ------------------------------------------------------------------ the table
    def show_ranking(self, ranking: Ranking) -> None:
        self.ranking = ranking
        first, _, rest = ranking.recommendation().partition(". ")
        self.summary.setText(self.tr("<b>{0}.</b> {1}<br>Ranked on {2} pictures of {3} classes "
                                     "in {4}.").format(
            html.escape(first.rstrip(".")), html.escape(rest), ranking.num_images,
            len(ranking.class_names), plain_duration(ranking.seconds)))
        self.table.setRowCount(len(ranking.ranked))
        for row, rank in enumerate(ranking.ranked):
            self._fill(row, rank, ranking, recommended=row == 0)
        names = [get_backbone(name).display_name for name in ranking.unavailable]
        self.not_here.setText(self.tr(
            "Not ranked, their weights are not on this computer: {0}. Download one on the Model "
            "page, then rank again.").format(", ".join(names)) if names else "")
        self.not_here.setVisible(bool(names))
        self.ensemble.set_ranking(ranking)
        if ranking.ranked:
            self.table.selectRow(0)
        self.table.setFocus()
        self._update_use()

    def _fill(self, row: int, rank: BackboneRank, ranking: Ranking, recommended: bool) -> None:
        name = rank.display_name + (self.tr("  (recommended)") if recommended else "")
        seconds = rank.feature_seconds + rank.score_seconds
        cached = ranking.num_images - rank.computed_images
        cells = (
            (name, self.tr("{0} ({1})").format(rank.display_name, rank.backbone)),
            (f"{rank.cv_accuracy:.1%} \u00b1 {rank.cv_std:.1%}", self.tr(
                "Per fold ({0} folds): {1}").format(ranking.folds, ", ".join(
                    f"{a:.1%}" for a in rank.fold_accuracies))),
            (f"{rank.knn_accuracy:.1%}", self.tr(
                "Leave-one-out vote of the {0} most similar pictures").format(ranking.neighbours)),
            (f"{rank.logme:.3f}", self.tr(COLUMNS[3][1])),
            (f"{seconds:.1f}", self.tr(
                "Features {0:.1f} s ({1} computed, {2} from the cache), scoring {3:.1f} s").format(
                    rank.feature_seconds, rank.computed_images, max(cached, 0),
                    rank.score_seconds)),
        )
        for col, (text, tip) in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(tip)
            item.setData(NAME, rank.backbone)
            if col:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if recommended:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(row, col, item)

    # ------------------------------------------------------------------ use
    def selected_backbone(self) -> Optional[str]:
        rows = self.table.selectionModel().selectedRows()
        item = self.table.item(rows[0].row(), 0) if rows else None
        return item.data(NAME) if item is not None else None

    def _update_use(self) -> None:
        name = self.selected_backbone() if not self.is_running() else None
        self.use_button.setEnabled(name is not None)
        if name is None:
            self.use_button.setText(self.tr("&Use"))
            self.use_button.setToolTip(self.tr("Rank the backbones first, then use the best."))
            return
        display = get_backbone(name).display_name
        self.use_button.setText(self.tr("&Use {0}").format(display))
        self.use_button.setToolTip(self.tr("Make {0} the backbone on the Model page (choose "
                                           "another row to use that one)").format(display))

    def use(self) -> None:
        """Make the selected backbone the Model page's and close the window."""
        name = self.selected_backbone()
        if name is None or self.is_running():
            return
        self.state.set_backbone(name)
        self.chosen.emit(name)
        self.accept()
