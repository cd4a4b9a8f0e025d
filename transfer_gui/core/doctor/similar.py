"""Find pictures that are copies of each other: the same bytes, or the same photo re-encoded,
resized, lightly cropped or with its colours changed.

Two signals, because neither alone is enough (measured on hymenoptera, bench/doctor.py):
backbone features survive crops but not a strong downscale (cosine 0.64 for some copies, while
distinct photos reach 0.80); a small grey thumbnail survives re-encoding, resizing and colour
changes but not a crop. So candidates are each picture's nearest neighbours by either signal
(blocked matrix products, never a Python loop over pairs), and a candidate is a copy when its
features are at least FEATURE_FLOOR alike and one thumbnail matches a crop box of the other
(crop_match.py: a coarse grid of boxes, refined around the best) >= 0.92.
On hymenoptera (396 photos, /tmp experiment and tests/test_doctor_similar.py): no two distinct
photos linked; every one of 792 copies cropped up to 15% on every side at random (half of them
also resized 50-150% and recoloured, JPEG q 50-70) linked to its original, directly or through its
twin copy (763 with the coarse grid alone, 791 refined; the 20 feature neighbours found the last
one, whose features were only 0.74 alike), and 560 of 560 copies of 7 other kinds. A looser rule that let similar
features make up for a weaker match called distinct pictures of a dataset whose pictures all
look alike (generated shapes) copies; it was rejected.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..checksum import file_digest
from .crop_match import THUMB_SIDE, copy_score, grids, match_pairs, whole

__all__ = ["THUMB_SIDE", "copy_score", "copy_pairs", "connected_groups", "exact_groups",
           "file_digest", "nearest_pairs"]

FEATURE_NEIGHBOURS = 20  # candidates per picture by features ...
THUMB_NEIGHBOURS = 10  # ... and by whole thumbnails
FEATURE_FLOOR = 0.5  # cosine of backbone features a copy keeps (distinct photos reach 0.80)
THUMB_CANDIDATE = 0.8  # correlation of whole thumbnails for a candidate
CROP_FEATURES = 0.65  # a pair is crop-searched when its features are this alike ...
CROP_FRAMED = 0.5  # ... or its whole thumbnails correlate this much (see copy_pairs)
COPY_THRESHOLD = 0.92  # crop-tolerant thumbnail match of a copy (see the docstring)
SEARCH_DIMS = 128  # neighbour search on the features' main directions
_BLOCK_ROWS = 2048


def exact_groups(digests: Sequence[str | None]) -> list[list[int]]:
    """Indices of files with the same bytes, groups of two or more (None: unreadable)."""
    by_digest: dict[str, list[int]] = {}
    for index, digest in enumerate(digests):
        if digest is not None:
            by_digest.setdefault(digest, []).append(index)
    return [members for members in by_digest.values() if len(members) > 1]


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _search_space(unit: np.ndarray, dims: int = SEARCH_DIMS) -> np.ndarray:
    """Unit rows projected on their `dims` main directions (PCA of a sample), unit again: the
    neighbour search costs n^2 * dims, and exact cosines are checked afterwards."""
    if unit.shape[1] <= dims:
        return unit
    rng = np.random.default_rng(0)
    sample = unit[rng.choice(len(unit), min(len(unit), 4 * dims), replace=False)]
    _, _, directions = np.linalg.svd(sample - sample.mean(axis=0), full_matrices=False)
    return _unit_rows(unit @ directions[:dims].T)


def nearest_pairs(rows: np.ndarray, min_similarity: float, k: int = THUMB_NEIGHBOURS,
                  block: int = _BLOCK_ROWS) -> np.ndarray:
    """(pairs, 2) with i < j where j is among i's `k` most similar rows (cosine of unit rows,
    at least `min_similarity`); blocked products, O(n * block) memory, no Python loop."""
    import torch

    n = len(rows)
    k = min(k, n - 1)
    if k < 1:
        return np.zeros((0, 2), dtype=int)
    table = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))
    found = []
    for start in range(0, n, block):
        sims = table[start:start + block] @ table.T
        own = torch.arange(len(sims))
        sims[own, start + own] = -2.0  # not itself
        values, columns = sims.topk(k, dim=1)
        keep = values >= min_similarity
        first = (own[:, None] + start).expand_as(columns)[keep]
        second = columns[keep]
        found.append(torch.stack([torch.minimum(first, second), torch.maximum(first, second)], 1))
    pairs = torch.cat(found).numpy()
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def copy_pairs(features: np.ndarray, thumbs: np.ndarray, usable: Iterable[int] | None = None
               ) -> list[tuple[int, int, float]]:
    """(i, j, score) for every pair judged a copy; rows outside `usable` are ignored.

    A copy: features at least FEATURE_FLOOR alike and one thumbnail matching a crop box of
    the other >= COPY_THRESHOLD (the whole thumbnails first; the crop boxes where they do not
    already match). The crop search costs the most, so it is given only to pairs that could be
    a crop: a crop keeps what the picture shows, so its features stay close (CROP_FEATURES), and
    a copy whose features moved further (a strong downscale, perhaps also cropped) keeps its
    layout, so the whole thumbnails still correlate (CROP_FRAMED). Measured (bench/doctor.py):
    of 154 copies of hymenoptera photos that needed the crop search, the lowest features were
    0.59 (thumbnails 0.80 alike) and the lowest thumbnails 0.28 (features >= 0.70); on 20,000
    rows the rule cut the pairs searched from 334,786 to 30,325."""
    index = np.arange(len(features)) if usable is None else np.fromiter(usable, dtype=int)
    if len(index) < 2:
        return []
    unit_features = _unit_rows(np.asarray(features, dtype=np.float32)[index])
    grid_rows = grids(thumbs[index])
    whole_rows = whole(grid_rows).reshape(len(index), -1)
    pairs = np.unique(np.concatenate([
        nearest_pairs(_search_space(unit_features), FEATURE_FLOOR, FEATURE_NEIGHBOURS),
        nearest_pairs(whole_rows, THUMB_CANDIDATE, THUMB_NEIGHBOURS)]), axis=0)
    alike = np.einsum("pd,pd->p", unit_features[pairs[:, 0]], unit_features[pairs[:, 1]])
    framed = np.einsum("pd,pd->p", whole_rows[pairs[:, 0]], whole_rows[pairs[:, 1]])
    keep = alike >= FEATURE_FLOOR
    pairs, framed, alike = pairs[keep], framed[keep], alike[keep]
    scores = framed.copy()
    open_ = (scores < COPY_THRESHOLD) & ((alike >= CROP_FEATURES) | (framed >= CROP_FRAMED))
    scores[open_] = match_pairs(grid_rows, pairs[open_], enough=COPY_THRESHOLD,
                                 wholes=whole_rows)
    return [(int(index[i]), int(index[j]), float(score))
            for (i, j), score in zip(pairs, scores) if score >= COPY_THRESHOLD]


def connected_groups(count: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Groups (two or more members, sorted) of items linked directly or through others."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = list(pairs)
    if not pairs:
        return []
    rows, cols = zip(*pairs)
    graph = coo_matrix((np.ones(len(pairs)), (rows, cols)), shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for item, label in enumerate(labels):
        groups.setdefault(int(label), []).append(item)
    return [members for members in groups.values() if len(members) > 1]
