"""The splits (train / val / test): their names in files and in plain words, and stratified,
seeded splitting of labelled items into them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SPLIT_NAMES = ("train", "val", "test")
SPLIT_WORDS = {"train": "training", "val": "validation", "test": "test"}


def split_word(split: str) -> str:
    """The split as a user reads it: "validation" for "val"."""
    return SPLIT_WORDS.get(split, split)


def part_sizes(count: int, fractions: Sequence[float]) -> list[int]:
    """Split `count` items into parts as close as possible to `fractions`.

    Uses the largest-remainder method (ties go to the earlier part); when `count >= 2` the
    first part always keeps at least one item, and a second part with a positive fraction (the
    validation split) gets at least one, so even 2 images per class can be trained and checked.

    Args:
        count: Number of items of one class.
        fractions: Non-negative weights, one per part (normalised to sum to 1).

    Returns:
        Item counts per part, summing to `count`.
    """
    total = float(sum(fractions))
    exact = [round(count * fraction / total, 9) for fraction in fractions]
    sizes = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda part: (-(exact[part] - sizes[part]), part))
    for part in by_remainder[: count - sum(sizes)]:
        sizes[part] += 1
    if count >= 2 and sizes[0] == 0:
        donor = max(range(1, len(sizes)), key=lambda part: (sizes[part], -part))
        sizes[donor] -= 1
        sizes[0] += 1
    if len(sizes) > 1 and fractions[1] > 0 and sizes[1] == 0 and sizes[0] >= 2:
        sizes[0] -= 1
        sizes[1] += 1
    return sizes


def stratified_split(
    labels: Sequence[int], fractions: tuple[float, ...], seed: int
) -> list[list[int]]:
    """Split item indices into parts, per class, shuffled reproducibly.

    Each class's items are shuffled with `numpy.random.default_rng(seed)` (classes in
    ascending label order) and cut into consecutive pieces sized by `part_sizes`.

    Args:
        labels: The class label of every item.
        fractions: One non-negative weight per part, e.g. (0.8, 0.1, 0.1).
        seed: Seed of the shuffle; the same seed always gives the same split.

    Returns:
        One list of item indices per part, each sorted ascending.

    Raises:
        ValueError: When `fractions` is empty, has a negative value or sums to zero.
    """
    if not fractions or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"fractions must be non-negative and sum to more than 0: {fractions}")
    label_array = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in fractions]
    for label in np.unique(label_array):
        members = np.flatnonzero(label_array == label)
        shuffled = members[rng.permutation(len(members))]
        start = 0
        for part, size in enumerate(part_sizes(len(members), fractions)):
            parts[part].extend(int(index) for index in shuffled[start : start + size])
            start += size
    return [sorted(part) for part in parts]
