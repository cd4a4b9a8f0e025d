"""The wizard's shared state: what the user chose, the scanned dataset, and the last run.

Pages read and write it; its signals keep the other pages in step (napari's pattern: a model that
emits, views bound to it). It holds no widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from transfer_gui.core.data import DatasetScan
from transfer_gui.core.models import DEFAULT_BACKBONE
from transfer_gui.core.training.config import FEATURE_EXTRACTION, TrainConfig
from transfer_gui.core.training.engine import TrainingResult


class AppState(QObject):
    datasetChanged = Signal()  # data_dir and/or dataset changed
    choicesChanged = Signal()  # backbone, mode or a setting changed
    resultChanged = Signal()  # a run finished (or was cleared)
    trainingChanged = Signal(bool)  # True while a training job runs

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.data_dir: Optional[str] = None
        self.dataset: Optional[DatasetScan] = None
        self.backbone: str = DEFAULT_BACKBONE
        self.mode: str = FEATURE_EXTRACTION
        self.settings: dict[str, Any] = {}  # overrides of the mode's defaults (TrainConfig fields)
        self.result: Optional[TrainingResult] = None
        self.training = False

    def set_dataset(self, data_dir: Optional[str], dataset: Optional[DatasetScan]) -> None:
        self.data_dir, self.dataset = data_dir, dataset
        self.datasetChanged.emit()

    def set_backbone(self, name: str) -> None:
        if name != self.backbone:
            self.backbone = name
            self.choicesChanged.emit()

    def set_mode(self, mode: str) -> None:
        if mode != self.mode:
            self.mode = mode
            self.settings = {}  # each mode has its own defaults
            self.choicesChanged.emit()

    def set_setting(self, name: str, value: Any) -> None:
        if self.settings.get(name) != value:
            self.settings[name] = value
            self.choicesChanged.emit()

    def set_result(self, result: Optional[TrainingResult]) -> None:
        self.result = result
        self.resultChanged.emit()

    def set_training(self, running: bool) -> None:
        self.training = running
        self.trainingChanged.emit(running)

    def defaults(self) -> TrainConfig:
        """The current mode's defaults, for showing beside the user's overrides."""
        return TrainConfig.for_mode(self.data_dir or ".", self.mode, backbone=self.backbone)

    def config(self) -> TrainConfig:
        """The TrainConfig the Train page runs (raises ConfigError for a bad value)."""
        if not self.data_dir:
            raise ValueError("no dataset chosen")
        return TrainConfig.for_mode(self.data_dir, self.mode, backbone=self.backbone,
                                    **self.settings)

    def run_folder_name(self) -> str:
        import time

        return f"{time.strftime('%Y%m%d-%H%M%S')}_{self.backbone}_{self.mode}"

    @staticmethod
    def default_runs_root() -> Path:
        from PySide6.QtCore import QStandardPaths

        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
        return Path(base) / "runs"
