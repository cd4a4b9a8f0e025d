"""Pictures far from every class: backbone features unlike those of every other picture.

The score is one minus the mean cosine similarity to the picture's nearest neighbours (any
class). A picture is flagged when its score is far above the dataset's own typical score (a
robust z-score on the median and the median absolute deviation), so the rule adapts to how
alike the pictures of a dataset are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEIGHBOURS = 5
ROBUST_Z = 4.0  # flagged above median + ROBUST_Z * 1.4826 * MAD of the scores
MIN_PICTURES = 20  # fewer: no reliable notion of "typical"


@dataclass(frozen=True)
class Outlier:
    row: int
    similarity: float  # mean cosine to its nearest neighbours
    typical: float  # the median of that over the dataset


def outliers(features: np.ndarray) -> list[Outlier]:
    """Rows far from all others, farthest first ([] for fewer than MIN_PICTURES rows)."""
    n = len(features)
    if n < MIN_PICTURES:
        return []
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = (features / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    k = min(NEIGHBOURS, n - 1)
    nearest = np.empty(n, np.float32)
    for start in range(0, n, 2048):
        sims = unit[start:start + 2048] @ unit.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = -np.inf
        top = np.partition(sims, n - k, axis=1)[:, n - k:]
        nearest[start:start + 2048] = top.mean(axis=1)
    score = 1.0 - nearest
    median = float(np.median(score))
    spread = 1.4826 * float(np.median(np.abs(score - median)))
    limit = median + ROBUST_Z * max(spread, 1e-6)
    typical = 1.0 - median
    flagged = np.flatnonzero(score > limit)
    return [Outlier(int(i), float(nearest[i]), typical)
            for i in flagged[np.argsort(-score[flagged])]]
