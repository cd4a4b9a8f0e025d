"""The Settings page's "Find good settings for me" window (`find_settings_job`, core/auto).

Feature extraction: the linear probe's regularisation chosen by cross-validation (seconds).
Fine-tuning and from scratch: short training runs with other settings within the minutes the
user gives; each trial streams into the table as it runs, with its validation curve beside it.
"Use these settings" puts the chosen values on the Settings page, where they can be changed
like any other, and the next run's config.json keeps the search table. Settings the user changed
are kept, not searched. Closing the window stops a search (a trial ends within one batch).
"""

from __future__ import annotations

import html
from typing import Any, Optional

import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QSpinBox, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from transfer_gui.core.auto import COMPLETE, SEARCHED, AutoSettings, TrialRecord, describe
from transfer_gui.core.jobs.auto_settings import find_settings_job
from transfer_gui.core.jobs.events import TrialEnded, TrialEpoch, TrialStarted
from transfer_gui.core.training.config import FEATURE_EXTRACTION, MODE_NAMES, TrainConfig
from transfer_gui.core.training.options import OPTION_BY_NAME
from transfer_gui.ui.error_dialog import plain_message
from transfer_gui.ui.job_progress import JobProgress
from transfer_gui.ui.model.which_backbone import plain_duration
from transfer_gui.ui.plots import epoch_plot
from transfer_gui.ui.state import AppState
from transfer_gui.ui.workers import JobHost

from .option_rows import translated

DEFAULT_BUDGET_MIN = 10
STATE_NAMES = {"complete": "finished", "pruned": "stopped early (worse than the others)",
               "out of time": "out of time", "stopped": "stopped", "failed": "failed"}
RUNNING = "running…"
# The table's narrower headers (the Settings page's label is each one's tooltip).
SHORT_HEADERS = {"backbone_lr_factor": "Backbone rate ×", "unfreeze_stages": "Stages",
                 "learning_rate": "Learning rate", "augmentation": "Augmentation"}


def option_label(name: str) -> str:
    """An option's Settings-page label without its accelerator and colon: "Learning rate"."""
    return translated(OPTION_BY_NAME[name].label).replace("&", "").rstrip(":")


class AutoSettingsDialog(QDialog, JobHost, JobProgress):
    """Searches settings for the state's dataset, backbone and mode, and applies the choice."""

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.found: Optional[AutoSettings] = None
        self._searched_for: tuple = ()  # (dataset, backbone, mode) of the search shown
        self.names: tuple[str, ...] = ()  # the searched options, the table's middle columns
        self.fixed: list[str] = []
        self._rows: dict[int, int] = {}  # trial number -> table row
        self._curves: dict[int, tuple[pg.PlotDataItem, list[float], list[float]]] = {}
        self.setWindowTitle(self.tr("Find good settings"))
        self.runner = self.make_runner(
            progress=self._on_progress, finished=self._on_finished, failed=self._on_failed,
            cancelled=self._on_cancelled, stopped=lambda: self._set_running(False),
            events={TrialStarted: self._on_trial_started, TrialEpoch: self._on_epoch,
                    TrialEnded: self._on_trial_ended})
        self.intro = QLabel(wordWrap=True)
        self.kept = QLabel(wordWrap=True)
        self.budget = QSpinBox(minimum=1, maximum=24 * 60, value=DEFAULT_BUDGET_MIN,
                               suffix=self.tr(" min"))
        self.budget.setToolTip(self.tr("How long the search may take. Training the chosen "
                                       "settings comes after it."))
        self.budget_label = QLabel(self.tr("&Time for the search:"))
        self.budget_label.setBuddy(self.budget)
        self.start_button = QPushButton(self.tr("&Find settings"), clicked=self.start)
        self.stop_button = QPushButton(self.tr("&Stop"), clicked=self.stop, toolTip=self.tr(
            "Stop the search: the trial running ends within one batch, finished trials count"))
        controls = QHBoxLayout()
        controls.addWidget(self.budget_label)
        controls.addWidget(self.budget)
        controls.addWidget(self.start_button)
        controls.addWidget(self.stop_button)
        controls.addStretch(1)
        self.progress_bar = QProgressBar(minimum=0, maximum=1000)
        self.summary = QLabel(wordWrap=True, textInteractionFlags=(
            Qt.TextInteractionFlag.TextSelectableByMouse))
        # A window's layout gives a wrapped label its one-line hint: room for three lines.
        self.summary.setMinimumHeight(3 * self.summary.fontMetrics().lineSpacing() + 4)
        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.plot = epoch_plot(self.tr("Validation accuracy of each trial"),
                               self.tr("Accuracy"), percent=True)
        self.plot.setMinimumWidth(260)
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([660, 400])
        self.use_button = QPushButton(self.tr("&Use these settings"), clicked=self.use)
        self.close_button = QPushButton(self.tr("&Close"), clicked=self.reject,
                                        toolTip=self.tr("Close (stops a search in progress)"))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.kept)
        layout.addLayout(controls)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self._set_running(False)
        self.resize(1100, 600)
        self.prepare()

    # ------------------------------------------------------------------ what is searched
    def prepare(self) -> None:
        """Say what will be searched for the state's current backbone and mode (call before
        showing: they may have changed since the last search)."""
        mode = self.state.mode
        if self.found is not None and self._searched_for != self._choices():
            self._clear()  # a search for another dataset, backbone or mode: not shown
            self.summary.setText("")
            self._set_running(False)
        earlier = self.state.auto_settings() or {}
        chosen_before = set(earlier.get("chosen", {}))
        # Settings the user changed stay; the last search's own choices are searched again.
        self.fixed = [n for n in self.state.settings_for(mode)
                      if n in SEARCHED.get(mode, ()) and n not in chosen_before]
        self.names = tuple(n for n in SEARCHED.get(mode, ()) if n not in self.fixed)
        probe = mode == FEATURE_EXTRACTION
        self.budget_label.setVisible(not probe)
        self.budget.setVisible(not probe)
        self.plot.setVisible(not probe)  # no trials: no curves
        if probe:
            self.intro.setText(self.tr(
                "Feature extraction has one setting worth searching: how strongly the classifier "
                "on the features is regularised. It is chosen by cross-validation on your "
                "training pictures; with the features computed once, that takes seconds."))
        else:
            self.intro.setText(self.tr(
                "{mode} with {backbone}: settings are tried in short training runs on your "
                "pictures, the recommended ones first, within the time you give. A trial whose "
                "validation accuracy falls behind the others is stopped early. Searched: "
                "{names}.").format(mode=self.tr(MODE_NAMES[mode]),
                                   backbone=self.state.backbone,
                                   names=", ".join(option_label(n).lower()
                                                   for n in self.names) or self.tr("nothing")))
        config = self._config()
        self.kept.setText(self.tr("Kept as you set them (Restore defaults on the Settings page "
                                  "to search them too): {0}.").format(describe_values(
            {n: getattr(config, n) for n in self.fixed}))
            if self.fixed and config is not None else "")
        self.kept.setVisible(bool(self.kept.text()))
        headers = [(self.tr("Trial"), ""),
                   *((self.tr(SHORT_HEADERS.get(n, option_label(n))), option_label(n))
                     for n in self.names),
                   (self.tr("Val accuracy"), self.tr("The trial's best epoch's validation "
                                                     "accuracy")),
                   (self.tr("Best epoch"), ""), (self.tr("Seconds"), ""), (self.tr("State"), "")]
        if probe:
            headers = [(self.tr("Regularisation (L2)"), ""), (self.tr("Mean fold accuracy"), "")]
        self.table.setColumnCount(len(headers))
        for col, (title, tip) in enumerate(headers):
            item = QTableWidgetItem(title)
            item.setToolTip(tip or title)
            self.table.setHorizontalHeaderItem(col, item)

    def _config(self) -> Optional[TrainConfig]:
        """The state's config, with the last search's choices back at the mode's defaults."""
        try:
            config = self.state.config()
        except Exception:
            return None
        earlier = self.state.auto_settings() or {}
        defaults = self.state.defaults()
        return config.with_changes(**{n: getattr(defaults, n)
                                      for n in earlier.get("chosen", {})})

    def _choices(self) -> tuple:
        return (id(self.state.dataset), self.state.backbone, self.state.mode)

    # ------------------------------------------------------------------ running
    def start(self, max_trials: Optional[int] = None) -> None:
        """Search within the budget (at most `max_trials` trials when given)."""
        config = self._config()
        if config is None or self.runner.is_running():
            return
        self.prepare()
        self._clear()
        self.summary.setText(self.tr("Searching…"))
        self.summary.setToolTip("")
        self._set_running(True)
        self._searched_for = self._choices()
        budget_s = self.budget.value() * 60.0
        self.runner.start(find_settings_job, self.state.dataset, config, budget_s,
                          list(self.fixed), max_trials)

    def _clear(self) -> None:
        self.found = None
        self.table.setRowCount(0)
        self._rows.clear()
        self.plot.clear()
        self._curves.clear()

    def reject(self) -> None:  # Close, Escape: stop a search (finished trials are shown)
        self.runner.cancel()
        super().reject()

    def _set_running(self, running: bool) -> None:
        self.show_running(running)
        self.start_button.setEnabled(not running)
        self.budget.setEnabled(not running)
        self.use_button.setEnabled(not running and bool(self.found and self.found.chosen))

    # ------------------------------------------------------------------ the table
    def _row_of(self, number: int) -> int:
        if number not in self._rows:
            self._rows[number] = self.table.rowCount()
            self.table.insertRow(self.table.rowCount())
            self._set(self._rows[number], 0, str(number + 1))
        return self._rows[number]

    def _set(self, row: int, col: int, text: str, tip: str = "") -> None:
        item = QTableWidgetItem(text)
        item.setToolTip(tip)
        if col:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table.setItem(row, col, item)

    def _state_col(self) -> int:
        return len(self.names) + 4

    def _on_trial_started(self, event: TrialStarted) -> None:
        row = self._row_of(event.number)
        for col, name in enumerate(self.names, start=1):
            self._set(row, col, describe(name, event.settings.get(name)))
        self._set(row, self._state_col(), self.tr(RUNNING))
        self.table.scrollToItem(self.table.item(row, 0))

    def _on_epoch(self, event: TrialEpoch) -> None:
        row, epoch, acc = self._row_of(event.number), event.row["epoch"], event.row["val_acc"]
        curve = self._curves.get(event.number)
        if curve is None:
            pen = pg.mkPen(pg.intColor(event.number, hues=9), width=2)
            item = self.plot.plot([], [], pen=pen, symbol="o", symbolSize=5,
                                  symbolBrush=pen.color(), name=str(event.number + 1))
            curve = self._curves[event.number] = (item, [], [])
        curve[1].append(epoch)
        curve[2].append(acc)
        curve[0].setData(curve[1], curve[2])
        self.plot.setXRange(0, max(1, max(max(c[1]) for c in self._curves.values())),
                            padding=0.02)
        self._set(row, len(self.names) + 1, f"{acc:.1%}", self.tr("After epoch {0}").format(epoch))

    def _on_trial_ended(self, event: TrialEnded) -> None:
        self._fill(event.record)

    def _fill(self, record: TrialRecord, chosen: bool = False) -> None:
        row = self._row_of(record.number)
        for col, name in enumerate(self.names, start=1):
            self._set(row, col, describe(name, record.settings.get(name)))
        acc = f"{record.val_acc:.1%}" if record.val_acc is not None else "–"
        epoch = str(record.best_epoch) if record.best_epoch is not None else "–"
        base = len(self.names)
        self._set(row, base + 1, acc, self.tr("Its best epoch's validation accuracy"))
        self._set(row, base + 2, epoch)
        self._set(row, base + 3, f"{record.seconds:.0f}")
        state = self.tr(STATE_NAMES.get(record.state, record.state))
        if record.resumed:
            state += self.tr(" (earlier search)")
        self._set(row, base + 4, state + (self.tr(" — chosen") if chosen else ""), record.note)
        if chosen:
            for col in range(self.table.columnCount()):
                item = self.table.item(row, col)
                if item is not None:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)

    # ------------------------------------------------------------------ the end
    @Slot(object)
    def _on_finished(self, found: AutoSettings) -> None:
        self.show_found(found)

    @Slot(object)
    def _on_cancelled(self, found: Optional[AutoSettings]) -> None:
        if found is None:
            self.summary.setText(self.tr("Search stopped before any setting was tried."))
            return
        self.show_found(found)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.summary.setText(self.tr("The search could not run: {0}").format(
            plain_message(message)))
        self.summary.setToolTip("\n\n".join(p for p in (message, details) if p))

    def show_found(self, found: AutoSettings) -> None:
        """The table as the search ended, and what it chose in plain words."""
        self.found = found
        if found.mode == FEATURE_EXTRACTION:
            self.table.setRowCount(len(found.l2_accuracy))
            best = found.chosen.get("head_l2")
            for row, (l2, accuracy) in enumerate(found.l2_accuracy.items()):
                self._set(row, 0, f"{l2:.3g}" + (self.tr(" — chosen") if l2 == best else ""))
                self._set(row, 1, f"{accuracy:.1%}")
        else:
            for record in found.trials:
                self._fill(record, chosen=record.number == found.best_trial)
            if found.best_trial in self._rows:
                self.table.scrollToItem(self.table.item(self._rows[found.best_trial], 0))
        self.summary.setText(self._sentence(found))
        self.use_button.setEnabled(bool(found.chosen))
        if found.chosen:
            self.use_button.setFocus()

    def _sentence(self, found: AutoSettings) -> str:
        took = plain_duration(found.seconds)
        if not found.chosen:
            why = html.escape(found.stop_reason or self.tr("no trial finished"))
            return self.tr("Search ended after {0} ({1}): nothing better than the recommended "
                           "settings was found, so they stay.").format(took, why)
        values = describe_values(found.chosen)
        if found.mode == FEATURE_EXTRACTION:
            return self.tr("<b>Chosen by cross-validation in {0}:</b> {1}.").format(
                took, html.escape(values))
        best = next((t for t in found.trials if t.number == found.best_trial), None)
        score = (self.tr(" (validation accuracy {0:.1%})").format(best.val_acc)
                 if best is not None and best.val_acc is not None else "")
        finished = sum(t.state == COMPLETE for t in found.trials)
        after = (self.tr(" Training them takes about {0}.").format(
            plain_duration(found.final_seconds)) if found.final_seconds else "")
        return self.tr("<b>Trial {0} chosen{1}:</b> {2}. {3} trials in {4}, {5} finished "
                       "(the search ended: {6}).{7}").format(
            found.best_trial + 1, score, html.escape(values), len(found.trials), took,
            finished, html.escape(found.stop_reason), after)

    def use(self) -> None:
        """Put the chosen values on the Settings page (the next run records the search)."""
        if self.found is None or not self.found.chosen or self.is_running():
            return
        if self._searched_for != self._choices():
            self.summary.setText(self.tr("The dataset, backbone or mode changed since this "
                                         "search: find settings again."))
            self.use_button.setEnabled(False)
            return
        self.state.apply_auto_settings(self.found.to_dict(), dict(self.found.chosen))
        self.accept()


def describe_values(values: dict[str, Any]) -> str:
    """"learning rate 3.4e-04, augmentation strong": options (TrainConfig fields) and values."""
    return ", ".join(f"{option_label(n).lower()} {describe(n, v)}" for n, v in values.items()
                     if n in OPTION_BY_NAME)


def describe_record(record: dict[str, Any]) -> str:
    """One line about a search record (config.json's "auto_settings"): what it chose."""
    return describe_values(record.get("chosen", {}))
