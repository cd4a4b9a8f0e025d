"""Classification metrics from predictions: confusion matrix, per-class scores, mistakes."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z = 1.96): honest for small counts
    and for accuracies near 0 or 1, unlike the normal approximation."""
    if total <= 0:
        return 0.0, 1.0
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def describe_accuracy(scores: dict) -> str:
    """"95.4% (91–98%, 153 images)": a split's accuracy with its 95% interval and image count."""
    n = scores["num_samples"]
    low, high = scores.get("accuracy_ci95") or wilson_interval(round(scores["accuracy"] * n), n)
    return (f"{scores['accuracy']:.1%} ({low * 100:.0f}\u2013{high * 100:.0f}%, "
            f"{n} image{'s' if n != 1 else ''})")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def evaluate_predictions(y_true: Sequence[int], probabilities: np.ndarray, class_names: Sequence[str],
                         files: Sequence[str]) -> dict:
    """Scores of one split; JSON-serialisable.

    Precision, recall and F1 of a class with no predictions (or no images) are 0, and macro-F1
    averages over classes that have images in the split.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=int)
    y_pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
    cm = confusion_matrix(y_true, y_pred, len(class_names))
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    precision = _ratio(tp, cm.sum(axis=0).astype(float))
    recall = _ratio(tp, support.astype(float))
    f1 = _ratio(2 * precision * recall, precision + recall)
    present = support > 0
    per_class = [
        {"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
    ]
    wrong = np.flatnonzero(y_pred != y_true)
    misclassified = sorted(
        ({"file": files[i], "true": class_names[y_true[i]], "predicted": class_names[y_pred[i]],
          "probability": float(probs[i, y_pred[i]]), "true_probability": float(probs[i, y_true[i]])}
         for i in wrong),
        key=lambda m: -m["probability"],
    )
    correct = int((y_pred == y_true).sum())
    return {
        "num_samples": int(len(y_true)),
        "accuracy": correct / len(y_true) if len(y_true) else 0.0,
        "accuracy_ci95": list(wilson_interval(correct, len(y_true))),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
        "misclassified": misclassified,
    }
