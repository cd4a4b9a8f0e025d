"""The "Which backbone?" window's "Make an ensemble" job: `build_ensemble` (core/ensemble) over
the best-ranked backbones, on the Data page's scan (not scanned again), with the features the
ranking left in the cache; the run folder it writes joins the project like a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from transfer_gui.core.data import DatasetScan
from transfer_gui.core.ensemble.build import build_ensemble
from transfer_gui.core.ensemble.report import EnsembleReport
from transfer_gui.core.features import default_feature_cache
from transfer_gui.core.run_result import load_run_result
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import TrainingResult

from .rank import folds_for


def ensemble_job(state, scan: DatasetScan, run_dir: Path, backbones: Sequence[str],
                 class_weights: str = TrainConfig.class_weights
                 ) -> tuple[EnsembleReport, TrainingResult]:
    """Builds the ensemble of `backbones` (2 or more, best first) into `run_dir`; returns the
    report (candidates, greedy path, the decision) and the run as the app shows runs."""
    report = build_ensemble(str(scan.root), run_dir, list(backbones),
                            max_members=min(len(backbones), 3), folds=folds_for(scan),
                            class_weights=class_weights,
                            leave_out_empty_classes=bool(scan.left_out_classes), dataset=scan,
                            cache=default_feature_cache(), allow_download=False,
                            progress=state.progress, cancel=state.cancel)
    return report, load_run_result(report.run_dir, scan)
