"""Find pictures that are copies of each other: the same bytes, or the same photo re-encoded,
resized, lightly cropped or with its colours changed.

Two signals, because neither alone is enough (measured on hymenoptera, bench/doctor.py):
backbone features survive crops but not a strong downscale (cosine 0.64 for some copies, while
distinct photos reach 0.80); a small grey thumbnail survives re-encoding, resizing and colour
changes but not a crop. So candidates are each picture's nearest neighbours by either signal
(blocked matrix products, never a Python loop over pairs), and a candidate is a copy when its
features are at least FEATURE_FLOOR alike and one thumbnail matches a crop box of the other
(boxes keeping 72-100% of each side in 5 steps, at 5 places along it; both directions) >= 0.92.
On 396 photos: no two distinct photos linked; copies linked 560 of 560 of 7 kinds (re-encoded,
halved, enlarged, cropped 5% a side or 15% at a corner, recoloured, combined) and 742 of 792
(94%) of copies cropped up to 15% on every side at random, half of them also resized and
recoloured (with 3 places and 80-100%: 593 of 792). A looser rule that
let similar features make up for a weaker match found all of those, but called distinct pictures
of a dataset whose pictures all look alike (generated shapes) copies: missing a heavily cropped
copy was preferred to that.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

import numpy as np

THUMB_SIDE = 48
"""Side of the grey thumbnail kept per picture (THUMB_SIDE**2 values)."""
MATCH_CELLS = 16  # a thumbnail region is compared as MATCH_CELLS x MATCH_CELLS box averages
NEIGHBOURS = 10  # candidates per picture and per signal
FEATURE_FLOOR = 0.5  # cosine of backbone features a copy keeps (distinct photos reach 0.80)
THUMB_CANDIDATE = 0.8  # correlation of whole thumbnails for a candidate
COPY_THRESHOLD = 0.92  # crop-tolerant thumbnail match of a copy (see the docstring)
MIN_BOX_VARIANCE = 1.0  # grey levels squared: a crop box flatter than this is not compared
SEARCH_DIMS = 128  # neighbour search on the features' main directions
_CROP_SCALES = (1.0, 0.93, 0.86, 0.79, 0.72)  # share of a side a crop box keeps ...
_CROP_PLACES = (0.0, 0.25, 0.5, 0.75, 1.0)  # ... and where it sits along that side
_BLOCK_ROWS = 2048


def file_digest(path: str) -> str:
    """SHA-256 of the file's bytes."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


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


def nearest_pairs(rows: np.ndarray, min_similarity: float, k: int = NEIGHBOURS,
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


def _interval_weights() -> tuple[np.ndarray, int]:
    """Box-averaging weights of every crop interval of one side, (intervals * cells, side),
    and the index of the whole side (0..1). Cells overlap pixels fractionally, as Pillow's BOX
    filter does, so a crop box's cell means are W_y @ grid @ W_x.T."""
    intervals = sorted({(round((1 - scale) * place, 4), round((1 - scale) * place + scale, 4))
                        for scale in _CROP_SCALES for place in _CROP_PLACES})
    pixels = np.arange(THUMB_SIDE)[None, :]
    weights = []
    for low, high in intervals:
        edges = (low + (high - low) * np.linspace(0, 1, MATCH_CELLS + 1)) * THUMB_SIDE
        start, stop = edges[:-1, None], edges[1:, None]
        overlap = np.clip(np.minimum(stop, pixels + 1) - np.maximum(start, pixels), 0, None)
        weights.append(overlap / (stop - start))
    return np.concatenate(weights).astype(np.float32), intervals.index((0.0, 1.0))


_WEIGHTS, _WHOLE_INTERVAL = _interval_weights()
_INTERVALS = len(_WEIGHTS) // MATCH_CELLS
_PER_INTERVAL = _WEIGHTS.reshape(_INTERVALS, MATCH_CELLS, THUMB_SIDE)  # W_i: (cells, side)
_GRAMS = (_PER_INTERVAL.transpose(0, 2, 1) @ _PER_INTERVAL).reshape(_INTERVALS, -1)  # W_j.T W_j
_COVERAGE = _PER_INTERVAL.sum(axis=1)  # (intervals, side): 1.T W_i


def _grids(thumbs: np.ndarray) -> np.ndarray:
    """(n, side, side), each less its mean: no correlation changes, and the float32 sums of
    squares below stay far from cancelling out."""
    grids = np.asarray(thumbs, dtype=np.float32).reshape(-1, THUMB_SIDE, THUMB_SIDE)
    return grids - grids.mean(axis=(1, 2), keepdims=True)


def _whole(grids: np.ndarray) -> np.ndarray:
    """(n, cells, cells): each whole thumbnail as cell means, zero-mean and unit length."""
    w = _PER_INTERVAL[_WHOLE_INTERVAL]
    cells = w @ grids @ w.T
    centred = cells - cells.mean(axis=(1, 2), keepdims=True)
    norms = np.sqrt((centred ** 2).sum(axis=(1, 2), keepdims=True))
    return centred / np.where(norms > 0, norms, 1.0)


def _best_box_correlation(grids: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """Per row: the highest correlation of `whole` with any crop box (y interval i, x interval
    j) of `grids`. A box's cells are C = W_i G W_j.T; never formed for all boxes: with
    P_i = W_i G, the dot product is sum(P_i * (whole W_j)), the sum is 1.T W_i G W_j.T 1 and
    the sum of squares is <P_i.T P_i, W_j.T W_j>, all batched matrix products."""
    n, cells = len(grids), MATCH_CELLS * MATCH_CELLS
    products = np.matmul(_PER_INTERVAL[None], grids[:, None])  # (n, I, cells, side): P_i
    targets = np.matmul(whole[:, None], _PER_INTERVAL[None])  # (n, I, cells, side): whole W_j
    dot = products.reshape(n, _INTERVALS, -1) @ targets.reshape(n, _INTERVALS, -1).transpose(0, 2, 1)
    sums = _COVERAGE @ grids @ _COVERAGE.T  # (n, I, I)
    grams = (products.transpose(0, 1, 3, 2) @ products).reshape(n, _INTERVALS, -1)
    squares = grams @ _GRAMS.T - sums ** 2 / cells
    flat = squares < cells * MIN_BOX_VARIANCE  # a flat box matches nothing (no division by ~0)
    correlation = np.where(flat, 0.0, dot / np.sqrt(np.maximum(squares, 1e-6)))
    return correlation.reshape(n, -1).max(axis=1)


def _match(grids_a: np.ndarray, grids_b: np.ndarray) -> np.ndarray:
    """Per pair: the better of (a whole in a crop box of b) and (b whole in a crop box of a)."""
    return np.maximum(_best_box_correlation(grids_b, _whole(grids_a)),
                      _best_box_correlation(grids_a, _whole(grids_b)))


def copy_score(thumb_a: np.ndarray, thumb_b: np.ndarray) -> float:
    """How well one thumbnail matches a region of the other: the best correlation over crop
    boxes of either, against the other whole (1.0: the same picture)."""
    return float(_match(_grids(thumb_a[None]), _grids(thumb_b[None]))[0])


def copy_pairs(features: np.ndarray, thumbs: np.ndarray, usable: Iterable[int] | None = None,
               pair_block: int = 256) -> list[tuple[int, int, float]]:
    """(i, j, score) for every pair judged a copy; rows outside `usable` are ignored.

    A copy: features at least FEATURE_FLOOR alike and one thumbnail matching a crop box of
    the other >= COPY_THRESHOLD (the whole thumbnails first; the crop boxes where they do not
    already match)."""
    index = np.arange(len(features)) if usable is None else np.fromiter(usable, dtype=int)
    if len(index) < 2:
        return []
    unit_features = _unit_rows(np.asarray(features, dtype=np.float32)[index])
    grids = _grids(thumbs[index])
    whole = _whole(grids).reshape(len(index), -1)
    pairs = np.unique(np.concatenate([
        nearest_pairs(_search_space(unit_features), FEATURE_FLOOR),
        nearest_pairs(whole, THUMB_CANDIDATE)]), axis=0)
    alike = np.einsum("pd,pd->p", unit_features[pairs[:, 0]], unit_features[pairs[:, 1]])
    framed = np.einsum("pd,pd->p", whole[pairs[:, 0]], whole[pairs[:, 1]])
    keep = alike >= FEATURE_FLOOR
    pairs, framed = pairs[keep], framed[keep]
    found = []
    for start in range(0, len(pairs), pair_block):
        block = pairs[start:start + pair_block]
        scores = framed[start:start + pair_block].copy()
        open_ = scores < COPY_THRESHOLD  # the whole thumbnails do not already match
        if open_.any():
            scores[open_] = _match(grids[block[open_, 0]], grids[block[open_, 1]])
        for (i, j), score in zip(block, scores):
            if score >= COPY_THRESHOLD:
                found.append((int(index[i]), int(index[j]), float(score)))
    return found


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
