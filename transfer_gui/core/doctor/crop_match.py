"""How well one grey thumbnail matches a region of another: the test behind "a lightly cropped
copy" (similar.py finds the candidate pairs; this scores them).

A crop box of thumbnail G is a y interval and an x interval of its side; its MATCH_CELLS x
MATCH_CELLS box averages are C = W_y G W_x.T, where W_i holds the averaging weights of interval i
(cells overlap pixels fractionally, as Pillow's BOX filter does). The score is the highest
correlation of the other thumbnail (whole, as cells) with any box, both ways round.

The search is coarse to fine: every box of a fixed grid (boxes keeping 72-100% of a side in 5
steps, at 5 places along it), then, for pairs that come close (COARSE_FLOOR) but do not yet match,
boxes around each direction's best one, with both ends moved by up to REFINE_STEPS (two rounds,
the second at half the step). A fixed grid alone lands a box up to half a step off a crop's
true edges, which costs a textured photo several hundredths of correlation: on hymenoptera with
two copies of each of 396 photos cropped up to 15% on every side (half also resized and
recoloured, JPEG q 50-70), of the 1,186 same-photo candidate pairs the grid alone matched 1,000
>= 0.92 and the refined search 1,080, while the best of 6,526 pairs of distinct photos rose
from 0.894 to 0.901 (similar.py's groups then hold every copy with its original).
No box is formed for all pairs: with P_i = W_i G, the dot product is sum(P_i * (whole W_j)), the
sum is 1.T W_i G W_j.T 1 and the sum of squares <P_i.T P_i, W_j.T W_j>, all batched products.
Many pairs (match_pairs): P_i and the boxes' spreads depend on the boxed picture alone, so they
are prepared once per picture and each pair costs two (I x cells*side) products; on one thread,
because with two each small product waits for the other core (measured with other work running:
0.34 against 30 ms a pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from threadpoolctl import threadpool_limits

from ..heads import one_thread

THUMB_SIDE = 48
"""Side of the grey thumbnail kept per picture (THUMB_SIDE**2 values)."""
MATCH_CELLS = 16  # a thumbnail region is compared as MATCH_CELLS x MATCH_CELLS box averages
MIN_BOX_VARIANCE = 1.0  # grey levels squared: a crop box flatter than this is not compared
COARSE_FLOOR = 0.75  # a pair whose coarse match is below this is not refined
MIN_SIDE = 0.6  # share of a side a refined box keeps at least
REFINE_STEPS = (-0.04, -0.02, 0.0, 0.02, 0.04)  # moves of each end of the best box's intervals
_CROP_SCALES = (1.0, 0.93, 0.86, 0.79, 0.72)  # share of a side a coarse box keeps ...
_CROP_PLACES = (0.0, 0.25, 0.5, 0.75, 1.0)  # ... and where it sits along that side
_CELLS = MATCH_CELLS * MATCH_CELLS


def interval_weights(intervals: np.ndarray) -> np.ndarray:
    """Box-averaging weights (..., cells, side) of intervals (..., 2) given as (low, high)
    shares of the side."""
    intervals = np.asarray(intervals, dtype=np.float32)
    low, high = intervals[..., :1, None], intervals[..., 1:, None]  # (..., 1, 1)
    edges = (low + (high - low) * np.linspace(0, 1, MATCH_CELLS + 1, dtype=np.float32)[:, None]) \
        * THUMB_SIDE  # (..., cells + 1, 1)
    start, stop = edges[..., :-1, :], edges[..., 1:, :]
    pixels = np.arange(THUMB_SIDE, dtype=np.float32)
    overlap = np.clip(np.minimum(stop, pixels + 1) - np.maximum(start, pixels), 0, None)
    return (overlap / (stop - start)).astype(np.float32)


_COARSE = np.array(sorted({(round((1 - s) * p, 4), round((1 - s) * p + s, 4))
                           for s in _CROP_SCALES for p in _CROP_PLACES}), dtype=np.float32)
_COARSE_WEIGHTS = interval_weights(_COARSE)  # (I, cells, side)
_WHOLE_WEIGHTS = interval_weights(np.array([0.0, 1.0]))  # (cells, side)


def grids(thumbs: np.ndarray) -> np.ndarray:
    """(n, side, side), each less its mean: no correlation changes, and the float32 sums of
    squares below stay far from cancelling out."""
    g = np.asarray(thumbs, dtype=np.float32).reshape(-1, THUMB_SIDE, THUMB_SIDE)
    return g - g.mean(axis=(1, 2), keepdims=True)


def whole(grid_rows: np.ndarray) -> np.ndarray:
    """(n, cells, cells): each whole thumbnail as cell means, zero-mean and unit length."""
    w = _WHOLE_WEIGHTS
    cells = w @ grid_rows @ w.T
    centred = cells - cells.mean(axis=(1, 2), keepdims=True)
    norms = np.sqrt((centred ** 2).sum(axis=(1, 2), keepdims=True))
    return centred / np.where(norms > 0, norms, 1.0)


def box_correlations(grid_rows: np.ndarray, targets: np.ndarray, wy: np.ndarray,
                     wx: np.ndarray) -> np.ndarray:
    """(n, Iy, Ix): correlation of each target (n, cells, cells; zero-mean, unit length) with
    every box (y interval i, x interval j) of its grid (n, side, side). `wy`, `wx`: weights
    (n or 1, I, cells, side)."""
    n = len(grid_rows)
    products = wy @ grid_rows[:, None]  # (n, Iy, cells, side): P_i
    aimed = targets[:, None] @ wx  # (n, Ix, cells, side): target W_j
    dot = products.reshape(n, products.shape[1], -1) @ aimed.reshape(n, aimed.shape[1], -1) \
        .transpose(0, 2, 1)
    sums = wy.sum(axis=2) @ grid_rows @ wx.sum(axis=2).transpose(0, 2, 1)  # (n, Iy, Ix)
    grams_y = (products.transpose(0, 1, 3, 2) @ products).reshape(n, products.shape[1], -1)
    grams_x = (wx.transpose(0, 1, 3, 2) @ wx).reshape(wx.shape[0], wx.shape[1], -1)
    squares = grams_y @ grams_x.transpose(0, 2, 1) - sums ** 2 / _CELLS
    flat = squares < _CELLS * MIN_BOX_VARIANCE  # a flat box matches nothing (no division by ~0)
    return np.where(flat, 0.0, dot / np.sqrt(np.maximum(squares, 1e-6)))


def _around(intervals: np.ndarray, scale: float) -> np.ndarray:
    """(n, steps², 2): intervals (n, 2) with each end moved by REFINE_STEPS * scale, inside the
    side; too short ones fall back to the interval itself."""
    steps = np.array(REFINE_STEPS, dtype=np.float32) * scale
    low = np.clip(intervals[:, None, None, 0] + steps[None, :, None], 0, 1)
    high = np.clip(intervals[:, None, None, 1] + steps[None, None, :], 0, 1)
    low, high = np.broadcast_arrays(low, high)
    moved = np.stack([low, high], axis=-1).reshape(len(intervals), -1, 2)
    short = (moved[..., 1] - moved[..., 0]) < MIN_SIDE
    return np.where(short[..., None], intervals[:, None], moved)


def _best_box(grid_rows: np.ndarray, targets: np.ndarray, rounds: int) -> np.ndarray:
    """Per row: the best correlation of `targets` with a box of `grid_rows`, the coarse grid
    first, then `rounds` refinements around the best box so far."""
    coarse = box_correlations(grid_rows, targets, _COARSE_WEIGHTS[None], _COARSE_WEIGHTS[None])
    n, count = len(grid_rows), len(_COARSE)
    flat = coarse.reshape(n, -1)
    at = flat.argmax(axis=1)
    best = flat[np.arange(n), at]
    y, x = _COARSE[at // count], _COARSE[at % count]
    for r in range(rounds):
        ys, xs = _around(y, 0.5 ** r), _around(x, 0.5 ** r)
        scores = box_correlations(grid_rows, targets, interval_weights(ys),
                                  interval_weights(xs)).reshape(n, -1)
        at = scores.argmax(axis=1)
        better = scores[np.arange(n), at] > best
        side = ys.shape[1]
        best = np.where(better, scores[np.arange(n), at], best)
        y = np.where(better[:, None], ys[np.arange(n), at // side], y)
        x = np.where(better[:, None], xs[np.arange(n), at % side], x)
    return best


def _box_sides(grid_rows: np.ndarray):
    """Per grid (torch, float32): P = W_i G for every coarse interval i, (n, I, cells * side),
    and 1 / the spread of every coarse box (n, I, I; 0 for a flat box). Both depend on the boxed
    picture alone, so a picture's boxes are prepared once for all its partners."""
    import torch

    count = len(_COARSE)
    weights = torch.from_numpy(_COARSE_WEIGHTS)  # (I, cells, side)
    g = torch.from_numpy(np.ascontiguousarray(grid_rows, dtype=np.float32))
    products = torch.matmul(weights.reshape(-1, THUMB_SIDE), g)  # (n, I * cells, side)
    per_box = products.reshape(len(g), count, MATCH_CELLS, THUMB_SIDE)
    grams = torch.matmul(per_box.transpose(2, 3), per_box).reshape(len(g), count, -1)
    weight_grams = torch.matmul(weights.transpose(1, 2), weights).reshape(count, -1)
    sums = weights.sum(dim=1)  # (I, side)
    totals = torch.matmul(torch.matmul(sums, g), sums.T)  # (n, I, I)
    squares = torch.matmul(grams, weight_grams.T) - totals ** 2 / _CELLS
    spread = torch.where(squares < _CELLS * MIN_BOX_VARIANCE, torch.zeros_like(squares),
                         torch.rsqrt(squares.clamp_min(1e-6)))
    return products.reshape(len(g), count, -1), spread


def _coarse_pairs(grid_rows: np.ndarray, wholes: np.ndarray, pairs: np.ndarray,
                  block: int) -> np.ndarray:
    """Per pair (i, j): the coarse match, the better of i whole in a box of j and j whole in a
    box of i (box_correlations on the coarse grid, the same numbers). The pairs are taken by
    boxed picture, `block` pictures at a time, each picture's boxes prepared once (_box_sides);
    a pair then costs two products of (I, cells * side) matrices."""
    import torch

    boxed = np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.argsort(boxed, kind="stable")
    directions = _Directions(
        boxed=boxed[order], partner=np.concatenate([pairs[:, 0], pairs[:, 1]])[order],
        slot=np.concatenate([np.arange(len(pairs))] * 2)[order],
        targets=torch.from_numpy(np.ascontiguousarray(wholes, dtype=np.float32)).reshape(
            -1, MATCH_CELLS, MATCH_CELLS),
        best=torch.full((len(pairs),), -1.0))
    pictures = np.unique(directions.boxed)
    with one_thread():  # small matrices: with two threads each product waits for the other core
        for start in range(0, len(pictures), block):
            directions.score(pictures[start:start + block], grid_rows)
    return directions.best.numpy()


@dataclass
class _Directions:
    """Each pair twice, sorted by the picture whose boxes are searched (`boxed`), with the
    picture matched whole (`partner`) and the pair's index (`slot`); `best` per pair so far."""

    boxed: np.ndarray
    partner: np.ndarray
    slot: np.ndarray
    targets: "torch.Tensor"  # noqa: F821 (every picture whole, (n, cells, cells))
    best: "torch.Tensor"  # noqa: F821

    def score(self, chunk: np.ndarray, grid_rows: np.ndarray) -> None:
        """The directions whose boxed picture is in `chunk` (sorted), into `best`."""
        import torch

        count = len(_COARSE)
        products, spread = _box_sides(grid_rows[chunk])
        at = slice(np.searchsorted(self.boxed, chunk[0]),
                   np.searchsorted(self.boxed, chunk[-1], "right"))
        local = torch.from_numpy(np.searchsorted(chunk, self.boxed[at]))
        aim = torch.from_numpy(_COARSE_WEIGHTS).permute(1, 0, 2).reshape(MATCH_CELLS, -1)
        aimed = torch.matmul(self.targets[torch.from_numpy(self.partner[at])], aim)
        aimed = aimed.reshape(-1, MATCH_CELLS, count, THUMB_SIDE).permute(0, 2, 1, 3) \
            .reshape(-1, count, MATCH_CELLS * THUMB_SIDE)  # R_j = T W_j, (m, I, cells * side)
        dot = torch.bmm(products[local], aimed.transpose(1, 2))  # (m, I, I)
        scores = (dot * spread[local]).flatten(1).amax(dim=1)
        self.best.scatter_reduce_(0, torch.from_numpy(self.slot[at]), scores, "amax")


def match_pairs(grid_rows: np.ndarray, pairs: np.ndarray, enough: float = 1.0,
                block: int = 32, wholes: Optional[np.ndarray] = None) -> np.ndarray:
    """`match` for the pairs (p, 2) of indices into `grid_rows`: the same scores, with each
    picture's boxes prepared once rather than once per pair (the coarse grid; the refinement,
    for the few pairs that come close, as `match` does it)."""
    if len(pairs) == 0:
        return np.zeros(0, dtype=np.float32)
    if wholes is None:  # `whole(grid_rows)`, when the caller has not made it already
        wholes = whole(grid_rows).reshape(len(grid_rows), -1)
    scores = _coarse_pairs(grid_rows, wholes, pairs, block)
    close = np.flatnonzero((scores >= COARSE_FLOOR) & (scores < enough))
    with threadpool_limits(1):  # numpy's products are small too (see _coarse_pairs)
        for start in range(0, len(close), block):
            at = close[start:start + block]
            scores[at] = np.maximum(scores[at], match(grid_rows[pairs[at, 0]],
                                                      grid_rows[pairs[at, 1]]))
    return scores


def match(grids_a: np.ndarray, grids_b: np.ndarray, enough: float = 1.0,
          refine: bool = True) -> np.ndarray:
    """Per pair: the better of (a whole in a crop box of b) and (b whole in a crop box of a),
    refined where the coarse grid comes close (COARSE_FLOOR) without reaching `enough`."""
    whole_a, whole_b = whole(grids_a), whole(grids_b)
    coarse = np.maximum(_best_box(grids_b, whole_a, 0), _best_box(grids_a, whole_b, 0))
    if not refine:
        return coarse
    close = (coarse >= COARSE_FLOOR) & (coarse < enough)
    if close.any():
        coarse[close] = np.maximum(_best_box(grids_b[close], whole_a[close], 2),
                                   _best_box(grids_a[close], whole_b[close], 2))
    return coarse


def copy_score(thumb_a: np.ndarray, thumb_b: np.ndarray) -> float:
    """How well one thumbnail matches a region of the other: the best correlation over crop
    boxes of either, against the other whole (1.0: the same picture)."""
    return float(match(grids(thumb_a[None]), grids(thumb_b[None]))[0])
