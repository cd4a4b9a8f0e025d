"""The data doctor's jobs for the app: the Data page's "Check data…" (every check of
core/doctor on the shown scan) and the Results page's "Likely label errors" (the label check
alone, on a run's backbone). Backbone features come from the app's process-wide feature cache,
so a dataset the app has seen costs seconds; nothing on disk is changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transfer_gui.core.data import DatasetScan
from transfer_gui.core.doctor import DoctorReport, LabelFinding, examine_dataset
from transfer_gui.core.features import default_feature_cache
from transfer_gui.core.jobs import Progress, StageProgress


@dataclass(frozen=True)
class LabelReviewResult:
    """The likely label errors of a scan, most suspicious first, and why there may be none."""

    root: str
    backbone: str
    findings: list[LabelFinding]
    note: str = ""  # why labels were not checked, when they were not
    skipped: int = 0  # unreadable pictures, not checked


def doctor_job(state, scan: DatasetScan, backbone: str, seed: int = 0) -> DoctorReport:
    """Every check of the data doctor on `scan` (copies and leaks, likely label errors, odd
    pictures, class balance), reporting through `state.progress` and stopping on
    `state.cancel`. The backbone's weights must be on this computer (no download)."""
    return examine_dataset(scan, backbone, cache=default_feature_cache(), allow_download=False,
                           seed=seed, progress=state.progress, cancel=state.cancel)


def label_review_job(state, scan: DatasetScan, backbone: str, seed: int = 0
                     ) -> LabelReviewResult:
    """The likely label errors of `scan` on `backbone`'s cached features: the ranking of
    core/doctor/labels.py (confident learning on out-of-fold probabilities)."""
    from transfer_gui.core.doctor.checkup import backbone_features, label_findings
    from transfer_gui.core.models import get_backbone

    state.progress(Progress(0.0, "Loading the backbone…", stage="load"))
    feats = backbone_features(get_backbone(backbone), [s.path for s in scan.samples],
                              default_feature_cache(), allow_download=False, cancel=state.cancel,
                              progress=StageProgress(state.progress, 0.0, 0.8, "features"))
    usable = np.array([i for i in range(len(scan.samples)) if i not in feats.failures], dtype=int)
    state.progress(Progress(0.8, "Looking for likely label errors", stage="labels"))
    findings, note = label_findings(scan, feats.center(usable), usable, seed=seed,
                                    cancel=state.cancel,
                                    progress=StageProgress(state.progress, 0.8, 1.0, "labels"))
    state.progress(Progress(1.0, f"{len(findings)} likely label error(s)", stage="done"))
    return LabelReviewResult(scan.root, backbone, findings, note, len(feats.failures))
