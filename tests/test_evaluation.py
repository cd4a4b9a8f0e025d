"""Metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from transfer_gui.core.evaluation import confusion_matrix, evaluate_predictions


def one_hot_probs(pred, n, p=0.9):
    probs = np.full((len(pred), n), (1 - p) / (n - 1))
    probs[np.arange(len(pred)), pred] = p
    return probs


def test_confusion_rows_are_true_classes():
    cm = confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_scores_match_hand_computation():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 1, 0]
    files = [f"f{i}" for i in range(6)]
    s = evaluate_predictions(y_true, one_hot_probs(y_pred, 3), ["a", "b", "c"], files)
    assert s["accuracy"] == pytest.approx(4 / 6)
    a, b, c = s["per_class"]
    assert (a["precision"], a["recall"]) == pytest.approx((2 / 3, 2 / 3))
    assert (b["precision"], b["recall"], b["f1"]) == pytest.approx((2 / 3, 1.0, 0.8))
    assert (c["precision"], c["recall"], c["f1"], c["support"]) == (0.0, 0.0, 0.0, 1)
    assert s["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0) / 3)
    assert [(m["file"], m["true"], m["predicted"]) for m in s["misclassified"]] == [
        ("f2", "a", "b"), ("f5", "c", "a")]
    assert s["misclassified"][0]["probability"] == pytest.approx(0.9)


def test_absent_class_is_left_out_of_macro_f1():
    s = evaluate_predictions([0, 1], one_hot_probs([0, 1], 3), ["a", "b", "c"], ["x", "y"])
    assert s["macro_f1"] == 1.0 and s["per_class"][2]["support"] == 0
