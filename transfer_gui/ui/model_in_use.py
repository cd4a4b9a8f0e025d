""""Model in use: run 2 · Fine-tuning · EfficientNet-Lite0 · 93.5%": which run's model a page
(Results, CAM, Predict) works with, and a warning when that run was trained on another dataset
than the one open (its classes may not be the ones the user is looking at)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import QLabel, QWidget

from transfer_gui.ui.project.run_picker import RunPicker
from transfer_gui.ui.state import AppState

FOREIGN_STYLE = ("QLabel { background: #fff7dc; color: #5c4600; border: 1px solid #ecd58c; "
                 "border-radius: 4px; padding: 2px 6px; }")


def same_folder(a: Optional[str | Path], b: Optional[str | Path]) -> bool:
    if not a or not b:
        return False
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def is_foreign(state: AppState) -> bool:
    """True when the selected run was trained on another folder than the open dataset."""
    result = state.result
    return (result is not None and bool(state.data_dir)
            and not same_folder(result.config.data_dir, state.data_dir))


class ModelInUse(QLabel):
    """A one-line label bound to the state's selected run. The run's label is the Run picker's
    (its `run_label` and `mode_label` are borrowed, so both say the same)."""

    run_label = RunPicker.run_label
    mode_label = RunPicker.mode_label

    def __init__(self, state: AppState, parent: Optional[QWidget] = None,
                 live: bool = True) -> None:
        """`live`: follow the selected run; otherwise say what it was at the last `refresh()`
        (the CAM panel keeps the model it was given until it is given another)."""
        super().__init__(parent)
        self.state = state
        self.setObjectName("modelInUse")
        self.setWordWrap(True)
        if live:
            for signal in (state.resultChanged, state.runsChanged, state.datasetChanged):
                signal.connect(self.refresh)
        self.refresh()

    def describe(self) -> str:
        """"run 2 · Fine-tuning · EfficientNet-Lite0 · 93.5%" ("" without a selected run)."""
        result = self.state.result
        if result is None:
            return ""
        index = self.state.selected_index()  # None: a run outside the project's list
        run = Path(result.run_dir)
        label = self.run_label(0 if index is None else index + 1, run)
        if index is None:
            return f"{label.split(' · ', 1)[-1]} ({run.name})"
        return self.tr("run {0}").format(label)

    def refresh(self) -> None:
        text = self.describe()
        self.setVisible(bool(text))
        if not text:
            return
        if is_foreign(self.state):
            self.setText(self.tr("⚠ Model in use: {0}. It was trained on another dataset ({1}), "
                                 "not the one open now.").format(
                text, self.state.result.config.data_dir))
            self.setStyleSheet(FOREIGN_STYLE)
        else:
            self.setText(self.tr("Model in use: {0}").format(text))
            self.setStyleSheet("QLabel { color: palette(dark); }")
        self.setToolTip(self.tr("The run whose model this page uses; its folder: {0}").format(
            self.state.result.run_dir))
