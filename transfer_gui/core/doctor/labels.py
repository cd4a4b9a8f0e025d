"""Likely label errors: confident learning (cleanlab) on out-of-fold probabilities.

Each picture is scored by the linear probe of the cross-validation fold that held it out
(crossval.out_of_fold_probabilities, on cached backbone features), so no picture vouches for
its own label. cleanlab's `find_label_issues` then keeps the pictures whose given label is
unlikely beyond what the estimated noise rates explain, ranked by self-confidence (the
probability of the given label). A review queue, not a verdict: published precision is ~50%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..jobs import CancelToken, ProgressCallback, no_progress

MIN_PER_CLASS = 2  # fewer pictures in a class: no out-of-fold estimate for it
MAX_FOLDS = 5


@dataclass(frozen=True)
class LabelSuspicion:
    """One picture whose label looks wrong, with the label the model would give it."""

    row: int  # index into the rows that were checked
    given: int
    suggested: int
    given_probability: float
    suggested_probability: float
    quality: float  # cleanlab's label quality score, 0 (surely wrong) .. 1


def folds_for(labels: np.ndarray) -> int:
    """As many folds as the smallest class allows, at most MAX_FOLDS (0: not possible)."""
    counts = np.bincount(labels)
    smallest = int(counts[counts > 0].min()) if counts.any() else 0
    if smallest < MIN_PER_CLASS or np.count_nonzero(counts) < 2:
        return 0
    return min(MAX_FOLDS, smallest)


@dataclass(frozen=True)
class LabelReview:
    """Out-of-fold probabilities, cleanlab's label quality of every row (0: surely wrong .. 1),
    and the rows cleanlab flags as label issues, most suspicious first."""

    probabilities: np.ndarray
    quality: np.ndarray
    flagged: list[int]

    def ranking(self) -> np.ndarray:
        """Every row, the most doubtful label first."""
        return np.argsort(self.quality, kind="stable")


def review_labels(features: np.ndarray, labels: np.ndarray, num_classes: int, *, seed: int = 0,
                  cancel: Optional[CancelToken] = None,
                  progress: ProgressCallback = no_progress) -> Optional[LabelReview]:
    """The label review of (features, labels); None when a class has too few pictures."""
    from cleanlab.filter import find_label_issues  # imported here: ~2.5 s, pandas
    from cleanlab.rank import get_label_quality_scores

    from ..crossval import out_of_fold_probabilities

    folds = folds_for(labels)
    if folds == 0:
        return None
    probabilities = out_of_fold_probabilities(features, labels, num_classes, folds, seed,
                                              cancel=cancel, progress=progress)
    present = np.unique(labels)  # cleanlab wants every column to be a class that occurs
    local_labels = np.searchsorted(present, labels)
    local = probabilities[:, present]
    local = local / local.sum(axis=1, keepdims=True)
    # n_jobs=1: cleanlab would otherwise fork a multiprocessing pool from this process, whose
    # torch and Qt threads can hold locks the children then wait on forever (seen in the tests).
    flagged = find_label_issues(local_labels, local, return_indices_ranked_by="self_confidence",
                                n_jobs=1)
    quality = get_label_quality_scores(local_labels, local)
    return LabelReview(probabilities, quality, [int(row) for row in flagged])


def likely_label_errors(features: np.ndarray, labels: np.ndarray, num_classes: int, *,
                        seed: int = 0, cancel: Optional[CancelToken] = None,
                        progress: ProgressCallback = no_progress) -> list[LabelSuspicion]:
    """Pictures whose label is probably wrong, most suspicious first ([] if too few per class)."""
    review = review_labels(features, labels, num_classes, seed=seed, cancel=cancel,
                           progress=progress)
    if review is None:
        return []
    found = []
    for row in review.flagged:
        given = int(labels[row])
        others = review.probabilities[row].copy()
        others[given] = -1.0
        suggested = int(np.argmax(others))
        found.append(LabelSuspicion(row, given, suggested,
                                    float(review.probabilities[row, given]),
                                    float(review.probabilities[row, suggested]),
                                    float(review.quality[row])))
    return found
