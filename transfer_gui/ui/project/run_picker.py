"""The Results page's "Run:" picker: which of the project's runs the app shows.

It lists `AppState.runs` by a readable label ("2 · Fine-tuning · EfficientNet-Lite0 · 95.4% ·
stopped": number, mode, backbone, best validation accuracy, and "stopped" when the user stopped
the run before it finished) and follows `AppState.result`; choosing a run
selects it in the state, so the Results page, the Train page's curves, the CAM panel and the
Predict page all show that run. It is hidden while the project holds fewer than two runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QWidget

from transfer_gui.core.compare import RunSummary, load_run_summary
from transfer_gui.core.errors import UserError

from transfer_gui.ui.error_dialog import show_exception
from transfer_gui.ui.names import mode_name
from transfer_gui.ui.state import AppState


def backbone_label(name: str) -> str:
    """The backbone's display name, or `name` itself when it is not registered here; an
    ensemble's members ("a+b", core/compare.py) joined by " + "."""
    from transfer_gui.core.models import get_backbone

    if "+" in name:
        return " + ".join(backbone_label(part) for part in name.split("+"))
    try:
        return get_backbone(name).display_name
    except UserError:
        return name or "?"


def _tr(text: str) -> str:
    return QCoreApplication.translate("RunPicker", text)


def mode_label(mode: str) -> str:
    return mode_name(mode, unknown="?")


def summary_label(number: int, summary: RunSummary) -> str:
    """"2 · Fine-tuning · EfficientNet-Lite0 · 95.4% · stopped": number, mode, backbone,
    best validation accuracy, and "stopped" for a run the user stopped early. The Run picker
    and the Compare window name runs so."""
    acc = f"{summary.best_val_acc:.1%}" if summary.best_val_acc is not None else "–"
    mode = _tr("Ensemble") if "+" in summary.backbone else mode_label(summary.mode)
    parts = [str(number), mode, backbone_label(summary.backbone), acc]
    if summary.cancelled:
        parts.append(_tr("stopped"))
    return " · ".join(parts)


class RunPicker(QWidget):
    """A "Run:" label and a combo box of the project's runs, bound to an AppState."""

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.combo = QComboBox()
        self.combo.setObjectName("runPicker")
        # Long labels are cut short in the box (the list and the tooltip show them whole), so
        # a project's runs never widen the Results page past a laptop screen.
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(24)
        self.combo.setMaximumWidth(520)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setToolTip(self.tr("Which of the project's runs to show: number, mode, "
                                      "backbone and best validation accuracy; “stopped” marks a "
                                      "run stopped before it finished. The Train page's curves, "
                                      "the CAM panel and Predict use the run chosen here."))
        self.combo.currentIndexChanged.connect(self._on_chosen)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(self.tr("Run:")))
        layout.addWidget(self.combo, 1)
        layout.addStretch(0)
        state.runsChanged.connect(self.refresh)
        state.resultChanged.connect(self._show_selected)
        self.refresh()

    def mode_label(self, mode: str) -> str:
        return mode_label(mode)

    def run_label(self, number: int, run: Path) -> str:
        """The run's `summary_label`, or its folder name when it cannot be read."""
        try:
            summary: RunSummary = load_run_summary(run)
        except UserError:
            return self.tr("{n} · {name} (unreadable)").format(n=number, name=Path(run).name)
        return summary_label(number, summary)

    def labels(self) -> list[str]:
        """The labels listed, in run order (for tests and checks)."""
        return [self.combo.itemText(i) for i in range(self.combo.count())]

    def refresh(self) -> None:
        """List the project's runs again (a run joined, or a project was opened)."""
        self.combo.blockSignals(True)
        self.combo.clear()
        for i, run in enumerate(self.state.runs, start=1):
            self.combo.addItem(self.run_label(i, run), str(run))
            self.combo.setItemData(i - 1, f"{self.combo.itemText(i - 1)}\n{run}",
                                   Qt.ItemDataRole.ToolTipRole)
        self.combo.blockSignals(False)
        self.setVisible(len(self.state.runs) > 1)
        self._show_selected()

    def _show_selected(self) -> None:
        index = self.state.selected_index()
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(-1 if index is None else index)
        self.combo.blockSignals(False)
        if index is not None:  # the whole label, however narrow the box
            self.setToolTip(self.combo.itemText(index))

    def choose(self, index: int) -> None:
        """Select the project's run number `index` (0-based), as choosing it in the list does."""
        self.combo.setCurrentIndex(index)

    def _on_chosen(self, index: int) -> None:
        run = self.combo.itemData(index)
        if not run:
            return
        try:
            self.state.select_run(run)
        except UserError as exc:
            show_exception(self, self.tr("Show run"), exc, object_name="runError",
                           informative=self.tr("Its folder may have been moved or deleted."))
            self._show_selected()
