"""Compare: the (backbone, mode) runs ticked in the window's grid (grid_picker.py; by default the
three modes on the chosen backbone), trained one after the other on the same data and split in one
background job (`compare_grid_job`).

Each mode trains with its own defaults and the user's changes to that mode (AppState keeps them
per mode); the data split, seed and device are the chosen mode's for every run, so they compare
fairly. They train on the Data page's scan with the user's corrections (AppState.dataset), as the
Train page does: left-out pictures stay out and relabelled ones count as their new class.
Before anything trains, `estimate_job` measures what an image costs on this computer and the
window asks: "This trains four models: about N minutes on this computer. Start?"

`ModeComparison` is the Compare window's part that runs it: the grid, its "Compare" button, the
progress row with Stop, and the job's signals. Each finished run joins the window's table as soon
as it is written, and is announced by the window's `runTrained` signal (the main window adds it
to the project, as it does for a run trained on the Train page).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QProgressBar, QPushButton, QWidget

from transfer_gui.core.jobs import Progress
from transfer_gui.core.jobs.compare_modes import Cell, compare_grid_job, estimate_job, grid_configs
from transfer_gui.core.jobs.events import RunTrained
from transfer_gui.core.training import options
from transfer_gui.core.training.config import MODES, TrainConfig
from transfer_gui.ui.workers import JobHost
from transfer_gui.ui.error_dialog import plain_message
from .grid_picker import GridPicker

# Options that describe the data and the computer, not a mode's recipe (declared per_mode=False
# in core/training/options.py): the chosen mode's values apply to every run, so each sees the
# same split and runs on the same device.
SHARED_OPTIONS = options.SHARED_OPTIONS
COUNTS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def runs_text(n: int) -> str:
    """ "1 run", "3 runs"."""
    return f"{n} run{'' if n == 1 else 's'}"


def models_text(n: int) -> str:
    """ "one model", "three models", "12 models"."""
    return f"{COUNTS[n] if n < len(COUNTS) else n} model{'' if n == 1 else 's'}"


def about(seconds: float) -> str:
    """A duration as a person says it: "less than a minute", "about 12 minutes", "about 2 hours
    10 minutes"."""
    minutes = int(round(seconds / 60))
    if minutes < 1:
        return "less than a minute"
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} hours {minutes} minutes" if minutes else f"about {hours} hours"


class ModeComparison(JobHost):
    """Mixin for `CompareView`: the grid of runs to train, its "Compare" button, its progress
    row and its job.

    The view provides `status` (a QLabel), `add_button`, `add_runs(paths)`, `runTrained` (a
    signal carrying a TrainingResult), `_mode_name(mode)` and `_app_state` / `_app_runs_root`
    (set by bind_state).
    """

    def _init_mode_comparison(self) -> None:
        """Make the runners and the widgets (call before laying them out)."""
        self._source: Optional[tuple[str, str, Path, dict, dict]] = None
        # waiting for the estimate: (source, cells, configs, the corrected scan or None)
        self._pending: Optional[tuple[tuple, list[Cell], list[TrainConfig], Any]] = None
        self._shut_down = False
        self.grid = GridPicker()
        self.grid.changed.connect(self._update_buttons)
        self.estimate_runner = self.make_runner(
            finished=self._on_estimated,
            failed=lambda message, details: self._on_estimated(None),
            cancelled=lambda _: self._end(self.tr("Not started.")))
        self.runner = self.make_runner(
            progress=self._on_progress, events={RunTrained: self._on_run_trained},
            finished=self._on_finished, cancelled=self._on_cancelled, failed=self._on_failed)

        self.compare_button = QPushButton(self.tr("Co&mpare ticked"))
        self.compare_button.setDefault(True)
        self.compare_button.clicked.connect(self._compare_clicked)

        running = QHBoxLayout()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("%p%")
        self.progress_bar.setToolTip(self.tr("Progress of the comparison (all its runs)."))
        self.stop_button = QPushButton(self.tr("&Stop"))
        self.stop_button.setToolTip(self.tr("Stop the comparison; runs already finished stay "
                                            "in the table."))
        self.stop_button.clicked.connect(self.stop)
        running.addWidget(self.progress_bar, 1)
        running.addWidget(self.stop_button)
        running.setContentsMargins(0, 0, 0, 0)
        self.running_row = QWidget()
        self.running_row.setLayout(running)

    def set_source(self, data_dir: Optional[str], backbone: Optional[str],
                   runs_root: Optional[str | Path], overrides: Optional[dict] = None) -> None:
        """What the "Compare modes" button trains on (the lead may bind an AppState instead)."""
        self._source = ((str(data_dir), backbone, Path(runs_root), dict(overrides or {}), {})
                        if data_dir and backbone and runs_root else None)
        self.grid.follow(backbone)
        self._update_buttons()

    def _current_source(self) -> Optional[tuple[str, str, Path, dict, dict]]:
        """(data folder, backbone, runs folder, options for all modes, each mode's own)."""
        if self._app_state is not None and self._app_state.data_dir:
            s = self._app_state
            try:  # the chosen mode's split, seed and device serve every run
                chosen = s.config()
                shared = {name: getattr(chosen, name) for name in SHARED_OPTIONS}
            except Exception:  # a bad setting: the click says which
                shared = {k: v for k, v in s.settings.items() if k in SHARED_OPTIONS}
            own = {mode: s.settings_for(mode) for mode in MODES}
            return (s.data_dir, s.backbone, self._app_runs_root, shared, own)
        return self._source

    def _corrected_scan(self, data_dir: str) -> Any:
        """The app's scan of `data_dir` with the user's corrections (None without an app state,
        or for another folder: the job then scans the folder as it is)."""
        state = self._app_state
        if state is None or state.dataset is None or not state.data_dir:
            return None
        return state.dataset if Path(state.data_dir) == Path(data_dir) else None

    def _update_buttons(self) -> None:
        running = self.runner.is_running() or self.estimate_runner.is_running()
        if self._app_state is not None:
            self.grid.follow(self._app_state.backbone)
        n = len(self.grid.cells())
        source = self._current_source()
        self.compare_button.setEnabled(not running and source is not None and n > 0)
        self.grid.setEnabled(not running)
        self.add_button.setEnabled(not running)
        self.compare_button.setText(self.tr("Co&mpare ticked (%1)").replace("%1", str(n)))
        if source is None and not running:
            self.compare_button.setToolTip(self.tr("Choose a dataset first; then this trains "
                                                   "the ticked backbones and modes on it and "
                                                   "compares them here."))
        elif n == 0:
            self.compare_button.setToolTip(self.tr("Tick the backbones and modes to compare."))
        else:
            self.compare_button.setToolTip(self.tr(
                "Train the ticked backbones and modes on the same data and split, one after "
                "the other, and compare them here (an estimate of the time comes first)."))

    def _compare_clicked(self) -> None:
        """Estimate the time (in the background), ask, then train."""
        try:
            source = self._current_source()
            if source is None:
                return
            cells = self.grid.cells()
            if not cells:
                return
            data_dir, _, _, shared, own = source
            configs = grid_configs(data_dir, cells, shared, own)
        except Exception as exc:  # a bad setting: say which, train nothing
            self.status.setText(self.tr("Cannot compare: ") + str(exc))
            return
        dataset = self._corrected_scan(data_dir)
        self._pending = (source, cells, configs, dataset)
        self.status.setText(self.tr("Estimating how long the %1 take on this computer…")
                            .replace("%1", self.tr(models_text(len(cells)))))
        self.estimate_runner.start(estimate_job, configs, dataset)
        self._update_buttons()

    def _on_estimated(self, seconds: Optional[list[float]]) -> None:
        pending, self._pending = self._pending, None
        self._update_buttons()
        if pending is None:
            return
        (data_dir, _, runs_root, shared, own), cells, configs, dataset = pending
        if self.confirm_start(configs, seconds):
            self.compare_grid(data_dir, cells, runs_root, shared, own, dataset=dataset)
        else:
            self.status.setText(self.tr("Not started."))

    def confirm_start(self, configs: list[TrainConfig], seconds: Optional[list[float]]) -> bool:
        """Ask before the trainings start, with the time they take (None: not estimated)."""
        from transfer_gui.core.training.config import FEATURE_EXTRACTION

        models = self.tr(models_text(len(configs)))
        several = len({c.backbone for c in configs}) > 1
        if seconds is None:
            text = self.tr("This trains %1, one after the other. Start?").replace("%1", models)
            lines = [self.tr("The time could not be estimated on this computer.")]
        else:
            text = (self.tr("This trains %1: %2 on this computer. Start?").replace("%1", models)
                    .replace("%2", self.tr(about(sum(seconds)))))
            lines = []
            for config, took in zip(configs, seconds):
                unit = (self.tr("rounds") if config.mode == FEATURE_EXTRACTION
                        else self.tr("epochs"))
                what = self._mode_name(config.mode)
                if several:
                    what += ", " + self.grid.display_name(config.backbone)
                lines.append(self.tr("%1: %2 (up to %3 %4)")
                             .replace("%1", what)
                             .replace("%2", self.tr(about(took)))
                             .replace("%3", str(config.epochs)).replace("%4", unit))
        lines.append("\n" + self.tr("Early stopping may end them sooner. Stop keeps the runs "
                                    "already finished."))
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Compare"), text,
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("compareModesConfirm")
        box.setStyleSheet("QLabel#qt_msgbox_label, QLabel#qt_msgbox_informativelabel "
                          "{ min-width: 32em; }")  # one line per run, not wrapped
        box.setInformativeText("\n".join(lines))
        start = box.addButton(self.tr("&Start"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(start)
        box.exec()
        return box.clickedButton() is start

    def is_running(self) -> bool:
        return self.runner.is_running()

    def compare_modes(self, data_dir: str | Path, backbone: str, runs_root: str | Path,
                      overrides: Optional[dict] = None,
                      mode_overrides: Optional[dict[str, dict]] = None,
                      dataset: Any = None) -> None:
        """Train the three modes on `backbone` (see compare_grid)."""
        self.compare_grid(data_dir, [(backbone, mode) for mode in MODES], runs_root, overrides,
                          mode_overrides, dataset)

    def compare_grid(self, data_dir: str | Path, cells: list[Cell], runs_root: str | Path,
                     overrides: Optional[dict] = None,
                     mode_overrides: Optional[dict[str, dict]] = None,
                     dataset: Any = None) -> None:
        """Train the (backbone, mode) cells one after the other in the background; runs join the
        table. `overrides` apply to every run, then `mode_overrides[mode]` to that mode's;
        `dataset` is the Data page's scan with the user's corrections (None: the folder as it
        is)."""
        self.progress_bar.setValue(0)
        self.status.setText(self.tr("Training %1 on %2…")
                            .replace("%1", self.tr(models_text(len(cells))))
                            .replace("%2", Path(data_dir).name or str(data_dir)))
        self.running_row.show()
        self.stop_button.setEnabled(True)
        self.runner.start(compare_grid_job, str(data_dir), list(cells), Path(runs_root),
                          dict(overrides or {}), dict(mode_overrides or {}), dataset)
        self._update_buttons()

    def stop(self) -> None:
        """Stop the comparison at the next batch; finished runs stay."""
        if self.runner.is_running():
            self.stop_button.setEnabled(False)
            self.status.setText(self.tr("Stopping…"))
            self.runner.cancel()

    def _on_progress(self, progress: Progress) -> None:
        if progress.fraction is None:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(round(progress.fraction * 1000)))
        self.status.setText(progress.message)

    def _on_run_trained(self, event: RunTrained) -> None:
        result = event.result
        self.add_runs([getattr(result, "run_dir", result)])
        if getattr(result, "best", None) is not None:  # it saved a model
            self.runTrained.emit(result)

    def _end(self, message: str) -> None:
        self.running_row.hide()
        self.progress_bar.setRange(0, 1000)
        self.status.setText(message)
        self._update_buttons()

    def _on_finished(self, result: Any) -> None:
        self._end(self.tr("Comparison finished: %1.").replace(
            "%1", self.tr(runs_text(len(result or [])))))

    def _on_cancelled(self, result: Any) -> None:
        self._end(self.tr("Comparison stopped. Finished runs are kept."))

    def _on_failed(self, message: str, details: str) -> None:
        self._end(self.tr("Comparison failed: ") + plain_message(message))
        self.status.setToolTip(details or message)

    def close_during_run(self) -> bool:
        """Asked when the window closes while a comparison trains: True to close (after
        stopping it, or leaving it to train on), False to stay open."""
        if not self.runner.is_running() or self._shut_down:
            return True  # after shutdown() the thread has ended; its last signal may be queued
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Compare"),
                          self.tr("A comparison is training. Stop it?"),
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("compareCloseQuestion")
        box.setInformativeText(self.tr(
            "Runs already finished are kept; the run in progress keeps its best model so far, "
            "as with Stop. “Keep training” closes the window and the runs still join the "
            "project as they finish."))
        stop = box.addButton(self.tr("&Stop and close"), QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton(self.tr("&Keep training"), QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(stop)
        box.exec()
        if box.clickedButton() is stop:
            self.stop()
            return True
        return box.clickedButton() is keep

    def shutdown(self) -> bool:
        """Stop the background jobs and wait for them (call when the window closes)."""
        self._pending = None
        self._shut_down = True
        estimate_ended = self.estimate_runner.shutdown()
        return self.runner.shutdown() and estimate_ended
