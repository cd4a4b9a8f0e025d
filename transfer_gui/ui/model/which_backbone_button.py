"""The Model page's "Which backbone?" button: it opens the ranking window (which_backbone.py)
and keeps it, so the last ranking of the open dataset shows again without ranking again."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QPushButton, QWidget

from transfer_gui.ui.state import AppState

from .which_backbone import WhichBackboneDialog


class WhichBackboneButton(QPushButton):
    """"Which backbone?" (Alt+W): enabled once the Data page holds a dataset; opens the window
    and ranks, or shows the last ranking when the dataset is the same."""

    runMade = Signal(object)  # an ensemble's run (TrainingResult), to join the project

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(self.tr("&Which backbone?"), parent)
        self.state = state
        self.runs_root: Optional[Callable[[], Path]] = None  # where ensembles' runs go
        self.dialog: Optional[WhichBackboneDialog] = None
        self.clicked.connect(self.open_ranking)
        state.datasetChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        ready = self.state.dataset is not None
        self.setEnabled(ready)
        self.setToolTip(self.tr(
            "Score the backbones whose weights are on this computer on your pictures and "
            "recommend one (minutes the first time, seconds after)") if ready else self.tr(
            "Choose a dataset on the Data page first: the backbones are scored on your "
            "pictures."))

    def open_ranking(self) -> Optional[WhichBackboneDialog]:
        if self.state.dataset is None:
            return None
        if self.dialog is None:
            self.dialog = WhichBackboneDialog(self.state, self.window(), self.runs_root)
            self.dialog.ensemble.runMade.connect(self.runMade)
        dialog = self.dialog
        if not (dialog.is_current() and (dialog.is_running() or dialog.ranking is not None)):
            dialog.start()  # a first ranking, or of another dataset (or corrected since)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def shutdown(self) -> None:
        if self.dialog is not None:
            self.dialog.shutdown()
            self.dialog.close()
