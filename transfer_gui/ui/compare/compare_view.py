"""Compare view: a sortable table of run folders and their validation curves overlaid.

`set_runs` reads each run folder's summary (small JSON files, cheap enough for the GUI thread).
Bound to an AppState (`bind_state`), it lists the project's runs and stays in step with them.
The grid (grid_picker.py, run by compare_modes.py) trains the ticked backbones x modes on the same
data and split, one after the other; each finished run joins the table as soon as it is written,
and `runTrained` announces it so that it joins the project. Above the table, a sentence says what
the finished runs show about transfer (core/compare_summary.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QSplitter, QVBoxLayout, QWidget)

from transfer_gui.core.compare import RunSummary, load_run_summary
from transfer_gui.core.compare_summary import transfer_summary
from transfer_gui.core.errors import UserError
from transfer_gui.core.jobs.compare_modes import compare_modes_job
from transfer_gui.ui.names import mode_name
from transfer_gui.ui.project.run_picker import backbone_label
from transfer_gui.ui.error_dialog import plain_message
from .compare_modes import ModeComparison
from .run_table import INDEX_ROLE, PALETTE, RunTable

__all__ = ["CompareView", "compare_modes_job"]


class CompareView(ModeComparison, QWidget):
    """Table of runs plus overlaid validation accuracy and loss curves; runs mode comparisons."""

    runsChanged = Signal(list)  # list[Path] of the runs shown
    runTrained = Signal(object)  # TrainingResult of a run the grid finished with a model

    COLUMNS = RunTable.COLUMNS

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        from transfer_gui.ui.shortcuts import add_close_shortcuts

        add_close_shortcuts(self)  # Esc, Ctrl+W (when shown as a window)
        self._summaries: list[RunSummary] = []
        self._acc_curves: list[pg.PlotDataItem] = []
        self._loss_curves: list[pg.PlotDataItem] = []
        self._app_state = None
        self._app_runs_root: Optional[Path] = None
        self._project_keys: set[Path] = set()  # the project's runs when last listed
        self._init_mode_comparison()
        self._build()
        self._refresh()
        self._update_buttons()

    # ----------------------------------------------------------------------------------- layout
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)

        bar = QHBoxLayout()
        self.title = QLabel(self.tr("Compare runs"))
        self.title.setStyleSheet("font-size: 15pt; font-weight: 600;")
        self.title.setToolTip(self.tr("Runs side by side: settings, scores and validation curves."))
        bar.addWidget(self.title)
        bar.addStretch(1)
        self.add_button = QPushButton(self.tr("&Add run folder…"))
        self.add_button.setToolTip(self.tr("Add a finished run folder (one with config.json and "
                                           "metrics.jsonl) to the comparison."))
        self.add_button.clicked.connect(self._choose_run)
        self.clear_button = QPushButton(self.tr("C&lear"))
        self.clear_button.setToolTip(self.tr("Remove every run from the comparison "
                                             "(the run folders are kept)."))
        self.clear_button.clicked.connect(lambda: self.set_runs([]))
        for button in (self.add_button, self.clear_button):
            bar.addWidget(button)
        layout.addLayout(bar)
        layout.addLayout(self._build_top())

        self.table = RunTable()
        self.table.itemSelectionChanged.connect(self._update_highlight)

        self.empty_hint = QLabel(self.tr("No runs to compare yet. Add run folders, or tick "
                                         "backbones and modes and press “Compare ticked”."))
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setStyleSheet("color: #888; font-style: italic; padding: 6px;")
        self.empty_hint.setToolTip(self.tr("The table fills as runs are added."))

        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table)
        table_layout.addWidget(self.empty_hint)

        pg.setConfigOptions(antialias=True)
        plots = QWidget()
        plots_layout = QHBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        self.acc_plot = pg.PlotWidget(background="w")
        self.loss_plot = pg.PlotWidget(background="w")
        for plot, title, ylabel in ((self.acc_plot, self.tr("Validation accuracy"),
                                     self.tr("Accuracy")),
                                    (self.loss_plot, self.tr("Validation loss"), self.tr("Loss"))):
            plot.setTitle(title, color="#333", size="11pt")
            plot.setLabel("bottom", self.tr("Epoch"))
            plot.setLabel("left", ylabel)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.addLegend(offset=(-10, -10) if plot is self.acc_plot else (-10, 10),
                           brush=pg.mkBrush(255, 255, 255, 220), pen=pg.mkPen("#ddd"),
                           labelTextColor="#333")
            plots_layout.addWidget(plot)
        self.acc_plot.setYRange(0, 1)
        self.acc_plot.setToolTip(self.tr("Validation accuracy per epoch, one curve per run."))
        self.loss_plot.setToolTip(self.tr("Validation loss per epoch, one curve per run. Lower "
                                          "is better."))

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(table_box)
        splitter.addWidget(plots)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([260, 390])  # the table shows six runs at 1366 x 768
        splitter.setChildrenCollapsible(False)
        splitter.setToolTip(self.tr("Drag the handle to share space between table and plots."))
        layout.addWidget(splitter, 1)
        self.running_row.hide()

    def _build_top(self) -> QHBoxLayout:
        """The grid of runs to train (left) beside what is happening and what the table shows."""
        top = QHBoxLayout()
        top.setSpacing(12)
        box = QGroupBox(self.tr("&Train and compare"))  # Alt+T: focus the first tick box
        box.setToolTip(self.tr("Tick backbones (rows) and modes (columns): each tick is one "
                               "training run, all on the same data and split."))
        inner = QVBoxLayout(box)
        inner.setContentsMargins(8, 4, 8, 6)
        inner.addWidget(self.grid)
        inner.addWidget(self.compare_button, 0, Qt.AlignmentFlag.AlignRight)
        top.addWidget(box, 0, Qt.AlignmentFlag.AlignTop)

        info = QVBoxLayout()
        info.setSpacing(6)
        info.addWidget(self.running_row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #555;")
        self.status.setToolTip(self.tr("What the comparison is doing, or why a run was skipped."))
        info.addWidget(self.status)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setStyleSheet("font-size: 11pt;")
        self.summary.setToolTip(self.tr("What the finished runs show about transfer: each "
                                        "mode's best validation accuracy and its training "
                                        "time. A difference counts only when it is larger "
                                        "than what the validation images can tell apart."))
        info.addWidget(self.summary)
        info.addStretch(1)
        top.addLayout(info, 1)
        return top

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Weights may have been downloaded since the grid was built."""
        if not (self.runner.is_running() or self.estimate_runner.is_running()):
            self.grid.refresh_backbones()
        super().showEvent(event)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Closing during a comparison asks: stop it (as Stop does), keep it training, or stay."""
        if self.close_during_run():
            super().closeEvent(event)
        else:
            event.ignore()

    # ------------------------------------------------------------------------------------ runs
    def summaries(self) -> list[RunSummary]:
        """The runs shown, in the order they were added."""
        return list(self._summaries)

    def run_paths(self) -> list[Path]:
        return [s.path for s in self._summaries]

    def set_runs(self, paths: Sequence[str | Path]) -> None:
        """Show these run folders (replacing the current ones); bad folders are skipped."""
        self._summaries = []
        errors = self._load(paths)
        self._refresh()
        self._show_errors(errors)
        self.runsChanged.emit(self.run_paths())

    def add_runs(self, paths: Sequence[str | Path]) -> None:
        """Add run folders to those shown (a folder already shown is read again)."""
        errors = self._load(paths)
        self._refresh()
        self._show_errors(errors)
        self.runsChanged.emit(self.run_paths())

    def _load(self, paths: Sequence[str | Path]) -> list[str]:
        errors = []
        for path in paths:
            try:
                summary = load_run_summary(path)
            except UserError as exc:
                errors.append(str(exc))
                continue
            key = Path(path).resolve()
            self._summaries = [s for s in self._summaries if Path(s.path).resolve() != key]
            self._summaries.append(summary)
        return errors

    def _show_errors(self, errors: list[str]) -> None:
        if errors:
            self.status.setText(self.tr("Skipped: ") + " ".join(plain_message(e) for e in errors))
            self.status.setToolTip("\n".join(errors))

    def _choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Choose a run folder"))
        if folder:
            self.add_runs([folder])

    def _mode_name(self, mode: str) -> str:
        return mode_name(mode)

    def _refresh(self) -> None:
        """Rebuild the table and the curves from the summaries (a handful of runs: cheap)."""
        selected = self.selected_runs()
        self.table.show_runs(self._summaries)
        self.empty_hint.setVisible(not self._summaries)
        self.summary.setText(self.summary_text())
        self.clear_button.setEnabled(bool(self._summaries))
        self._rebuild_curves()
        if selected:
            self._select(selected)
        self._update_highlight()

    def summary_text(self) -> str:
        """The sentences about transfer for the runs shown ("" without a finished run)."""
        from transfer_gui.core.models import get_backbone
        from transfer_gui.core.errors import ConfigError

        names = {}
        for s in self._summaries:
            try:
                names[s.backbone] = get_backbone(s.backbone).display_name
            except ConfigError:  # an ensemble's members, or a plugin's backbone gone
                names[s.backbone] = s.backbone
        return transfer_summary(self._summaries, names)

    def _rebuild_curves(self) -> None:
        for plot, curves in ((self.acc_plot, self._acc_curves), (self.loss_plot, self._loss_curves)):
            for curve in curves:
                plot.removeItem(curve)
            curves.clear()
        several = len({s.backbone for s in self._summaries}) > 1
        for i, s in enumerate(self._summaries):
            colour = PALETTE[i % len(PALETTE)]
            for plot, values, curves in ((self.acc_plot, s.val_acc, self._acc_curves),
                                         (self.loss_plot, s.val_loss, self._loss_curves)):
                points = [(e, v) for e, v in zip(s.epochs, values) if v is not None]
                xs = [p[0] for p in points]
                ys = [p[1] for p in points]
                pen = pg.mkPen(colour, width=2)
                legend = f"{i + 1} · {self._mode_name(s.mode)}"
                if several:  # which backbone, when the runs have different ones
                    legend += f" · {backbone_label(s.backbone)}"
                curve = plot.plot(xs, ys, name=legend, pen=pen, symbol="o", symbolSize=6,
                                  symbolPen=pen, symbolBrush=pg.mkBrush(colour))
                curves.append(curve)

    def curve_points(self, plot: str = "acc") -> list[int]:
        """Points per curve ("acc" or "loss"), in run order (for tests and checks)."""
        curves = self._acc_curves if plot == "acc" else self._loss_curves
        out = []
        for curve in curves:
            x, _ = curve.getData()
            out.append(0 if x is None else len(x))
        return out

    def selected_runs(self) -> list[Path]:
        rows = {i.row() for i in self.table.selectedItems()}
        out = []
        for row in sorted(rows):
            item = self.table.item(row, 0)
            index = item.data(INDEX_ROLE) if item is not None else None
            if index is not None and index < len(self._summaries):
                out.append(self._summaries[index].path)
        return out

    def _select(self, paths: list[Path]) -> None:
        wanted = {Path(p).resolve() for p in paths}
        self.table.blockSignals(True)
        for row in range(self.table.rowCount()):
            index = self.table.item(row, 0).data(INDEX_ROLE)
            if Path(self._summaries[index].path).resolve() in wanted:
                self.table.selectRow(row)
        self.table.blockSignals(False)

    def _update_highlight(self) -> None:
        """Selected runs' curves are drawn thick and on top; the others faint."""
        chosen = {Path(p).resolve() for p in self.selected_runs()}
        for i, s in enumerate(self._summaries):
            colour = pg.mkColor(PALETTE[i % len(PALETTE)])
            on = not chosen or Path(s.path).resolve() in chosen
            if not on:
                colour.setAlpha(60)
            width = 3.5 if chosen and on else 2
            for curve in (self._acc_curves[i], self._loss_curves[i]):
                pen = pg.mkPen(colour, width=width)
                curve.setPen(pen)
                curve.setSymbolPen(pen)
                curve.setSymbolBrush(pg.mkBrush(colour))
                curve.setZValue(10 if chosen and on else 0)

    # ------------------------------------------------------------------------- the project
    def bind_state(self, state, runs_root: str | Path) -> None:
        """List an AppState's project runs (kept in step as runs join or a project opens), and
        take data folder, backbone and settings from it when Compare modes is pressed."""
        self._app_state, self._app_runs_root = state, Path(runs_root)
        state.datasetChanged.connect(self._update_buttons)
        state.choicesChanged.connect(self._update_buttons)
        state.runsChanged.connect(self.show_project_runs)
        self._update_buttons()

    @property
    def app_runs_root(self) -> Optional[Path]:
        """Where Compare modes saves its runs (None until bound to the app)."""
        return self._app_runs_root

    def set_app_runs_root(self, runs_root: str | Path) -> None:
        """Compare modes saves its runs here from now on (the outputs folder changed)."""
        self._app_runs_root = Path(runs_root)

    def show_project_runs(self) -> None:
        """Show the project's runs in order, then the run folders added by hand; the runs of a
        project that is no longer open are dropped."""
        if self._app_state is None:
            return
        project = [Path(p) for p in self._app_state.runs]
        keys = {_key(p) for p in project}
        extra = [s.path for s in self._summaries
                 if _key(s.path) not in keys and _key(s.path) not in self._project_keys]
        self._project_keys = keys
        self.set_runs(project + extra)


def _key(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()
