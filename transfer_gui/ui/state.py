"""The wizard's shared state: what the user chose, the scanned dataset, the project's runs and
the run being looked at.

Pages read and write it; its signals keep the other pages in step (napari's pattern: a model that
emits, views bound to it). It holds no widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from PySide6.QtCore import QObject, Signal

from transfer_gui.core.data import DatasetScan
from transfer_gui.core.data.corrections import DataCorrections
from transfer_gui.core.models import DEFAULT_BACKBONE
from transfer_gui.core.run_result import load_run_result
from transfer_gui.core.training.config import FEATURE_EXTRACTION, TrainConfig
from transfer_gui.core.training.engine import TrainingResult


class AppState(QObject):
    datasetChanged = Signal()  # data_dir and/or dataset changed
    choicesChanged = Signal()  # backbone, mode or a setting changed
    resultChanged = Signal()  # the selected run changed: one finished, was chosen, or cleared
    runsChanged = Signal()  # the project's list of runs changed
    trainingChanged = Signal(bool)  # True while a training job runs
    correctionsChanged = Signal()  # the user's corrections to the dataset changed

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.data_dir: Optional[str] = None
        self.dataset: Optional[DatasetScan] = None  # `scanned` with the user's corrections
        self.scanned: Optional[DatasetScan] = None  # the Data page's scan, as found on disk
        self.corrections = DataCorrections()  # left-out and relabelled pictures (the project's)
        self.doctor_report: Any = None  # the Data page's last "Check data…" of this dataset
        self.backbone: str = DEFAULT_BACKBONE
        self.mode: str = FEATURE_EXTRACTION
        self.settings: dict[str, Any] = {}  # overrides of the mode's defaults (TrainConfig fields)
        # The last "Find good settings" search: (backbone, mode, its record for config.json).
        self._auto_settings: Optional[tuple[str, str, dict[str, Any]]] = None
        self._other_modes_settings: dict[str, dict[str, Any]] = {}  # theirs, kept for Compare
        self.result: Optional[TrainingResult] = None  # the selected run
        self.runs: list[Path] = []  # the project's run folders, oldest first
        self._run_results: dict[Path, TrainingResult] = {}  # loaded (or trained) runs, by folder
        self.training = False

    def set_dataset(self, data_dir: Optional[str], dataset: Optional[DatasetScan]) -> None:
        """Another folder than the open one starts with the recommended first try: feature
        extraction with its recommended settings (the last dataset's mode may not suit it)."""
        another = data_dir is not None and (self.data_dir is None
                                            or _key(data_dir) != _key(self.data_dir))
        if another:  # corrections, checks and searched settings belong to one dataset
            self.corrections, self.doctor_report = DataCorrections(), None
            self._auto_settings = None
        self.data_dir, self.scanned = data_dir, dataset
        self.dataset = self.corrections.applied(dataset) if dataset is not None else None
        if another:
            self.settings, self._other_modes_settings = {}, {}
            self.mode = FEATURE_EXTRACTION
            self.choicesChanged.emit()
        self.datasetChanged.emit()

    def set_corrections(self, corrections: DataCorrections) -> None:
        """The one place the user's corrections meet the scan: `dataset` (what Train uses) is
        the scan with them applied."""
        self.corrections = corrections
        if self.scanned is not None:
            self.dataset = corrections.applied(self.scanned)
        self.correctionsChanged.emit()
        if self.scanned is not None:
            self.datasetChanged.emit()

    def set_backbone(self, name: str) -> None:
        if name != self.backbone:
            self.backbone = name
            self.choicesChanged.emit()

    def set_mode(self, mode: str) -> None:
        """Each mode has its own defaults; the user's changes to a mode's are kept for when it is
        chosen again (and for Compare modes)."""
        if mode != self.mode:
            self._other_modes_settings[self.mode] = self.settings
            self.mode = mode
            self.settings = self._other_modes_settings.pop(mode, {})
            self.choicesChanged.emit()

    def settings_for(self, mode: str) -> dict[str, Any]:
        """The user's changes to `mode`'s defaults (made while that mode was chosen)."""
        if mode == self.mode:
            return dict(self.settings)
        return dict(self._other_modes_settings.get(mode, {}))

    def set_setting(self, name: str, value: Any) -> None:
        if self.settings.get(name) != value:
            self.settings[name] = value
            self.choicesChanged.emit()

    def restore_defaults(self) -> None:
        """The current mode's recommended settings again (a search's choice is forgotten)."""
        self.settings = {}
        if self.auto_settings() is not None:
            self._auto_settings = None
        self.choicesChanged.emit()

    def apply_auto_settings(self, record: dict[str, Any], chosen: dict[str, Any]) -> None:
        """Make the values a settings search chose (`chosen`: TrainConfig fields) the current
        mode's settings, shown on the Settings page and changeable there like any other; the
        search's `record` goes into config.json of the runs trained with this backbone and mode
        (core/auto: AutoSettings.to_dict)."""
        self._auto_settings = (self.backbone, self.mode, record)
        self.settings.update(chosen)
        self.choicesChanged.emit()

    def auto_settings(self) -> Optional[dict[str, Any]]:
        """The search record of the current backbone and mode's settings, if one chose them."""
        if self._auto_settings is None or self._auto_settings[:2] != (self.backbone, self.mode):
            return None
        return self._auto_settings[2]

    def config_notes(self) -> dict[str, Any]:
        """More keys for the next run's config.json beside its settings (train_run's
        `config_notes`): the settings search that chose them, when there was one."""
        from transfer_gui.core.run import AUTO_SETTINGS

        record = self.auto_settings()
        return {AUTO_SETTINGS: record} if record is not None else {}

    def set_result(self, result: Optional[TrainingResult]) -> None:
        self.result = result
        self.resultChanged.emit()

    # -- the project's runs ---------------------------------------------------------------------
    def set_runs(self, runs: Sequence[str | Path]) -> None:
        """Replace the project's runs (a project was opened, or a new one started)."""
        self.runs = [Path(r) for r in runs]
        self._run_results.clear()
        self.runsChanged.emit()

    def add_run(self, result: TrainingResult, select: bool = True) -> None:
        """Add a finished run to the project (once) and, by default, select it."""
        path = Path(result.run_dir)
        if self.run_index(path) is None:
            self.runs.append(path)
        self._run_results[_key(path)] = result
        self.runsChanged.emit()
        if select and self.result is not result:
            self.set_result(result)

    def run_index(self, run_dir: Optional[str | Path]) -> Optional[int]:
        """The position of `run_dir` in `runs`, or None when it is not one of them."""
        if run_dir is None:
            return None
        key = _key(run_dir)
        return next((i for i, run in enumerate(self.runs) if _key(run) == key), None)

    def selected_index(self) -> Optional[int]:
        """The position of the selected run in `runs` (None when nothing, or another, is shown)."""
        return self.run_index(self.result.run_dir) if self.result is not None else None

    def run_result(self, run_dir: str | Path) -> TrainingResult:
        """The TrainingResult of a run folder: the one training returned, else read from the
        folder once (core/run_result.py, as reopening a project does).

        Raises:
            UserError: The folder is not a readable run folder.
        """
        key = _key(run_dir)
        if key not in self._run_results:
            self._run_results[key] = load_run_result(run_dir, self.dataset)
        return self._run_results[key]

    def select_run(self, run_dir: str | Path) -> TrainingResult:
        """Show `run_dir`'s results everywhere that follows the selected run.

        Raises:
            UserError: The folder is not a readable run folder (the selection is unchanged).
        """
        result = self.run_result(run_dir)
        if result is not self.result:
            self.set_result(result)
        return result

    def set_training(self, running: bool) -> None:
        self.training = running
        self.trainingChanged.emit(running)

    def defaults(self) -> TrainConfig:
        """The current mode's defaults, for showing beside the user's overrides."""
        return TrainConfig.for_mode(self.data_dir or ".", self.mode, backbone=self.backbone)

    def config(self, mode: Optional[str] = None) -> TrainConfig:
        """The TrainConfig the Train page runs, or that `mode` would run with its own settings
        (raises ConfigError for a bad value)."""
        if not self.data_dir:
            raise ValueError("no dataset chosen")
        mode = mode or self.mode
        left_out = self.dataset is not None and bool(self.dataset.left_out_classes)
        return TrainConfig.for_mode(self.data_dir, mode, backbone=self.backbone,
                                    **{"leave_out_empty_classes": left_out,
                                       **self.settings_for(mode)})

    def run_folder_name(self) -> str:
        import time

        return f"{time.strftime('%Y%m%d-%H%M%S')}_{self.backbone}_{self.mode}"

    @staticmethod
    def default_runs_root() -> Path:
        from PySide6.QtCore import QStandardPaths

        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
        return Path(base) / "runs"


def _key(path: str | Path) -> Path:
    """A run folder's identity: the same folder however it was spelled."""
    return Path(path).expanduser().resolve()
