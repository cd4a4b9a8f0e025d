"""Tests for transfer_gui.core.data.splits: stratified, seeded, well-rounded splits."""

from __future__ import annotations

from collections import Counter

import pytest

from transfer_gui.core.data import stratified_split
from transfer_gui.core.data.splits import part_sizes


@pytest.mark.parametrize(
    "count, fractions, expected",
    [
        (10, (0.8, 0.1, 0.1), [8, 1, 1]),
        (100, (0.8, 0.1, 0.1), [80, 10, 10]),
        (5, (0.8, 0.1, 0.1), [4, 1, 0]),
        (2, (0.8, 0.1, 0.1), [1, 1, 0]),  # validation gets one even so
        (2, (0.1, 0.9), [1, 1]),  # train keeps one item
        (1, (0.1, 0.9), [0, 1]),  # a single item cannot be split
        (0, (0.8, 0.2), [0, 0]),
        (7, (0.7, 0.3, 0.0), [5, 2, 0]),
        (33, (0.9, 0.1), [30, 3]),
    ],
)
def test_part_sizes_round_to_the_closest_counts(count, fractions, expected):
    assert part_sizes(count, fractions) == expected


def test_split_is_stratified_complete_and_sorted():
    labels = [0] * 100 + [1] * 50 + [2] * 7 + [3] * 2 + [4] * 1
    parts = stratified_split(labels, (0.8, 0.1, 0.1), seed=3)
    flat = [i for part in parts for i in part]
    assert sorted(flat) == list(range(len(labels)))
    assert all(part == sorted(part) for part in parts)
    per_part = [Counter(labels[i] for i in part) for part in parts]
    assert [per_part[p][0] for p in range(3)] == [80, 10, 10]
    assert [per_part[p][1] for p in range(3)] == [40, 5, 5]
    assert sum(per_part[p][2] for p in range(3)) == 7 and per_part[0][2] >= 5
    assert per_part[0][3] >= 1 and per_part[0][4] == 1


def test_same_seed_same_split_other_seed_other_split():
    labels = [i % 3 for i in range(300)]
    first = stratified_split(labels, (0.8, 0.2), seed=7)
    assert stratified_split(labels, (0.8, 0.2), seed=7) == first
    assert stratified_split(labels, (0.8, 0.2), seed=8) != first


def test_labels_need_not_be_contiguous():
    parts = stratified_split([5, 5, 9, 9, 9, 9], (0.5, 0.5), seed=0)
    assert sorted(parts[0] + parts[1]) == list(range(6))
    assert len(parts[0]) == 3


@pytest.mark.parametrize("fractions", [(), (0.0, 0.0), (0.9, -0.1)])
def test_bad_fractions_are_rejected(fractions):
    with pytest.raises(ValueError):
        stratified_split([0, 1], fractions, seed=0)
