"""The Model page's "Which backbone?" job: `rank_backbones` (core/rank.py) on the Data page's
scan, with the user's corrections, so the folder is not scanned again. Backbone features come
from the app's process-wide feature cache: a dataset the app has seen ranks in seconds. Only
backbones whose weights are on this computer are ranked (nothing is downloaded); the others are
listed in the result's `unavailable`.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from transfer_gui.core.crossval import DEFAULT_FOLDS, DEFAULT_SEED
from transfer_gui.core.data import DatasetScan
from transfer_gui.core.features import default_feature_cache
from transfer_gui.core.rank import Ranking, rank_backbones
from transfer_gui.core.training.config import TrainConfig


def folds_for(scan: DatasetScan, folds: int = DEFAULT_FOLDS) -> int:
    """`folds`, or fewer when the smallest class has fewer images (at least 2: a class with
    one image is refused by the ranking, with what to do)."""
    labels = np.array([s.label for s in scan.samples], dtype=int)
    if not len(labels):
        return folds
    smallest = int(np.bincount(labels, minlength=scan.num_classes).min())
    return max(2, min(folds, smallest))


def rank_job(state, scan: DatasetScan, backbones: Optional[Sequence[str]] = None,
             class_weights: str = TrainConfig.class_weights, seed: int = DEFAULT_SEED,
             estimate: bool = True) -> Ranking:
    """Ranks the backbones on `scan` (the Data page's), reporting through `state.progress` and
    stopping on `state.cancel`.

    Args:
        state: The worker's job state (`progress`, `cancel`).
        scan: The dataset as the Data page shows it (corrections applied); never rescanned.
        backbones: Registry names to rank (default: every one whose weights are here).
        class_weights: "auto" or "none", as in the user's settings.
        seed: Seed of the fold assignment.
        estimate: Also time fine-tuning the recommended backbone (a few seconds).

    Raises:
        DatasetError: A class has fewer than 2 images (the message says what to do).
    """
    return rank_backbones(scan.root, backbones, folds=folds_for(scan), seed=seed,
                          class_weights=class_weights, estimate=estimate,
                          cache=default_feature_cache(), allow_download=False, scan=scan,
                          progress=state.progress, cancel=state.cancel)
