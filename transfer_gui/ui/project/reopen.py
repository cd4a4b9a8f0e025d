"""Showing a reopened project's last run: its result is read once the Data page has scanned the
project's dataset, with that scan (the dataset is scanned once) and off the GUI thread; then the
window lands on the Results step with the run's results, curves and CAM panel."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow

from transfer_gui.core.jobs.runs import load_run_job
from transfer_gui.core.models import backbone_names
from transfer_gui.core.training.engine import TrainingResult
from transfer_gui.ui.error_dialog import show_error
from transfer_gui.ui.workers import JobHost


class ReopenedRun(QObject, JobHost):
    """Selects a reopened project's run when its dataset is ready (one at a time)."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._run: Optional[Path] = None  # the run waiting to be shown
        self._dataset_dir: Optional[Path] = None  # the dataset it waits for (None: none to wait for)
        self._loading = False  # its result is being read
        self._loader = self.make_runner(finished=self._on_loaded, failed=self._on_failed)
        window.state.datasetChanged.connect(self._on_dataset)

    @property
    def pending(self) -> bool:
        """True while a run waits for its dataset or is being read."""
        return self._run is not None

    def show(self, run_dir: Path, dataset_dir: Optional[Path]) -> None:
        """Show `run_dir` once `dataset_dir` is scanned (at once, reading the run's own dataset
        in the background, when there is no dataset folder)."""
        self.cancel()
        self._run = Path(run_dir)
        self._dataset_dir = Path(dataset_dir).resolve() if dataset_dir else None
        if self._dataset_dir is None:
            self._load(None)
        else:
            self._on_dataset()  # the scan may already be there

    def cancel(self) -> None:
        """Forget the waiting run (another project, or a new one)."""
        self._run, self._loading = None, False
        self._loader.cancel()

    def shutdown(self) -> bool:
        """Stop and wait for a read still running (the window is closing)."""
        self.cancel()
        return self._loader.shutdown()

    def _load(self, dataset) -> None:
        self._loading = True
        self._loader.start(load_run_job, self._run, dataset)

    def _on_dataset(self) -> None:
        if self._run is None or self._dataset_dir is None or self._loading:
            return
        state, data_page = self.window.state, self.window.data_page
        if state.data_dir and Path(state.data_dir).resolve() != self._dataset_dir:
            self._dataset_dir = None  # the user chose another folder: show the run, stay there
            self._load(None)
        elif state.dataset is not None or (state.data_dir and not data_page.scanning):
            self._load(state.dataset)  # scanned (or the scan failed: the run rescans, here not)

    def _on_loaded(self, result: TrainingResult) -> None:
        if self._run is None:
            return
        land = self._dataset_dir is not None and self.window.state.dataset is not None
        self._run, self._loading = None, False
        state = self.window.state
        state.add_run(result)  # remembered and selected (it is one of the project's runs)
        if result.config.backbone in backbone_names():  # the Model step shows its model
            state.set_backbone(result.config.backbone)
        if land:  # the steps before Results are complete
            self.window.go_to(self.window.pages.index(self.window.results_page))

    def _on_failed(self, message: str, details: str) -> None:
        if self._run is None:
            return
        self._run, self._loading = None, False
        self.window.state.set_result(None)
        show_error(self.window, self.tr("Open project"), message, details,
                   object_name="projectError")
