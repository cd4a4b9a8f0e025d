"""Rebuild a TrainingResult from a run folder, so a reopened project shows its results again."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .data import DatasetScan
from .errors import UserError
from .run import Run
from .training.engine import TrainingResult, scan_matches


def load_run_result(run_dir: str | Path, dataset: Optional[DatasetScan] = None) -> TrainingResult:
    """The TrainingResult a run folder records: configuration, epoch history, best epoch, stop
    reason and evaluation. Its dataset is `dataset` when that scan matches the run's folder and
    split settings (the Data page's: a reopened project scans once), else scanned again from the
    configuration (same split seed, so the same splits); None when the folder is gone.

    Raises:
        UserError: The folder is not a run folder (no readable config.json).
    """
    run = Run.open(run_dir)
    config = run.config()
    history = run.metrics()
    summary = run.result()
    evaluation = run.evaluation()
    best_epoch = summary.get("best_epoch")
    best = next((m for m in history if m.get("epoch") == best_epoch), None)
    if dataset is None or not scan_matches(dataset, config):
        try:
            dataset = run.dataset()
        except UserError:
            dataset = None
    return TrainingResult(run.path, config, dataset, history=history, best=best,
                          evaluation=evaluation, stop_reason=summary.get("stop_reason"),
                          cancelled=bool(summary.get("cancelled")), device=summary.get("device", ""),
                          seconds=float(summary.get("seconds") or 0.0),
                          probe=summary.get("probe"), kept=summary.get("kept"),
                          note=summary.get("note"))


