"""A reopened project's job: read a run folder's result (off the GUI thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from transfer_gui.core.data import DatasetScan
from transfer_gui.core.run_result import load_run_result
from transfer_gui.core.training.engine import TrainingResult


def load_run_job(state, run_dir: Path, dataset: Optional[DatasetScan]) -> TrainingResult:
    """The run's TrainingResult, on `dataset` (the Data page's scan) when it matches the run's
    split settings; otherwise the run's dataset is scanned here, not on the GUI thread."""
    return load_run_result(run_dir, dataset)
