"""The data doctor's checks on generated data: likely label errors (cleanlab on out-of-fold
probabilities), outliers, nearly empty pictures, class-balance notes and the report's words."""

from __future__ import annotations

import numpy as np
import pytest

from transfer_gui.core.data import DatasetScan, Sample
from transfer_gui.core.doctor import CopyGroup, Picture, balance_notes
from transfer_gui.core.doctor.labels import folds_for, likely_label_errors, review_labels
from transfer_gui.core.doctor.outliers import outliers
from transfer_gui.core.doctor.pictures import empty_look


def _clusters(rng, per_class=60, classes=3, dim=32, spread=1.0):
    centres = rng.normal(0, 3, (classes, dim))
    labels = np.repeat(np.arange(classes), per_class)
    return centres[labels] + rng.normal(0, spread, (len(labels), dim)), labels


def test_flipped_labels_rank_at_the_top():
    rng = np.random.default_rng(0)
    x, labels = _clusters(rng)
    flipped = rng.choice(len(labels), 9, replace=False)
    noisy = labels.copy()
    noisy[flipped] = (labels[flipped] + 1) % 3
    review = review_labels(x.astype(np.float32), noisy, 3, seed=0)
    assert len(set(review.ranking()[:12].tolist()) & set(flipped.tolist())) >= 8
    found = likely_label_errors(x.astype(np.float32), noisy, 3, seed=0)
    hits = {f.row for f in found} & set(flipped.tolist())
    assert len(hits) >= 6 and len(hits) >= 0.8 * len(found)  # a short list, mostly right
    first = next(f for f in found if f.row == flipped[0])
    assert first.suggested == labels[flipped[0]] and first.given == noisy[flipped[0]]
    assert first.suggested_probability > first.given_probability


def test_clean_well_separated_labels_give_few_or_no_suspicions():
    x, labels = _clusters(np.random.default_rng(1), spread=0.3)
    assert len(likely_label_errors(x.astype(np.float32), labels, 3)) <= 1


def test_too_few_pictures_per_class_skip_the_label_check():
    assert folds_for(np.array([0, 0, 0, 1])) == 0
    assert folds_for(np.array([0, 0, 1, 1, 1])) == 2
    assert folds_for(np.repeat([0, 1], 40)) == 5
    assert likely_label_errors(np.zeros((4, 3), np.float32), np.array([0, 0, 0, 1]), 2) == []


def test_a_picture_far_from_every_class_is_an_outlier():
    rng = np.random.default_rng(2)
    x, _ = _clusters(rng, per_class=30)
    x = np.vstack([x, rng.normal(0, 3, (1, x.shape[1])) * 5])  # somewhere else
    found = outliers(x.astype(np.float32))
    assert [o.row for o in found] == [len(x) - 1]
    assert found[0].similarity < found[0].typical
    assert outliers(x[:10]) == []  # too few pictures to know what is typical


@pytest.mark.parametrize("value, spread, reason", [(128, 0.5, "almost uniform"),
                                                   (8, 6.0, "very dark"),
                                                   (247, 6.0, "very bright"),
                                                   (128, 40.0, None)])
def test_nearly_empty_pictures(value, spread, reason):
    rng = np.random.default_rng(3)
    thumb = np.clip(value + rng.normal(0, spread, 48 * 48), 0, 255).astype(np.float32)
    look = empty_look(thumb)
    assert (look.reason if look else None) == reason


def _scan(counts: dict[str, dict[str, int]]) -> DatasetScan:
    names = list(counts)
    samples = [Sample(f"/d/{name}/{split}{i}.png", k, split)
               for k, name in enumerate(names) for split, n in counts[name].items()
               for i in range(n)]
    return DatasetScan(root="/d", layout="splits", class_names=names, samples=samples)


def test_balance_notes_name_small_classes_imbalance_and_thin_splits():
    notes = balance_notes(_scan({"cat": {"train": 80, "val": 10, "test": 10},
                                 "dog": {"train": 6, "val": 2, "test": 0}}))
    text = " ".join(notes)
    assert "Few pictures in 'dog'" in text
    assert "'cat' has 100 pictures, 'dog' only 8" in text
    assert "Under 5 validation pictures of 'dog'" in text
    every = " ".join(balance_notes(_scan({"a": {"train": 40, "val": 3, "test": 10},
                                          "b": {"train": 40, "val": 2, "test": 10}})))
    assert "Under 5 validation pictures of every class" in every
    assert balance_notes(_scan({"a": {"train": 40, "val": 10, "test": 10},
                                "b": {"train": 40, "val": 10, "test": 10}})) == []


def test_copy_groups_say_what_is_wrong():
    train_cat, val_cat = Picture("/a.jpg", "cat", "train"), Picture("/b.jpg", "cat", "val")
    train_dog = Picture("/c.jpg", "dog", "train")
    leak = CopyGroup((train_cat, val_cat), exact=False, similarity=0.97)
    conflict = CopyGroup((train_cat, train_dog), exact=True, similarity=1.0)
    plain = CopyGroup((train_cat, Picture("/d.jpg", "cat", "train")), exact=True, similarity=1.0)
    assert (leak.problem, conflict.problem, plain.problem) == ("leak", "label conflict", "copies")
    assert "in training and in validation: the validation score is inflated" in leak.describe()
    assert "labelled differently (cat, dog)" in conflict.describe()
    assert "the same file in class 'cat'" in plain.describe()


def test_the_label_check_never_forks_worker_processes(monkeypatch):
    import multiprocessing
    import multiprocessing.pool

    import cleanlab.filter  # noqa: F401  (imported before the pools are blocked)

    def no_pool(*args, **kwargs):
        raise AssertionError("a multiprocessing pool was started")

    monkeypatch.setattr(multiprocessing, "Pool", no_pool)
    monkeypatch.setattr(multiprocessing.pool, "Pool", no_pool)
    monkeypatch.setattr(multiprocessing.context.BaseContext, "Pool", no_pool)
    x, labels = _clusters(np.random.default_rng(5))
    assert review_labels(x.astype(np.float32), labels, 3) is not None
