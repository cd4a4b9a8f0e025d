"""Fit a linear classifier head on cached backbone features: the linear probe.

The head is a multinomial logistic regression fitted full-batch with L-BFGS, its L2 strength
chosen by stratified cross-validation on the training rows: the standard linear-probe protocol
(e.g. CLIP's evaluation; scikit-learn's `LogisticRegression(solver="lbfgs")` fits the same
objective). Feature extraction trains its head this way, fine-tuning starts from it (LP-FT), and
cross-validation, the benchmarks and later tools (label-error ranking, ensembles) call `fit_head`.

Objective, for rows x_i with labels y_i and row weights w_i:

    sum_i w_i CE(W x_i + b, y_i) / sum_i w_i  +  l2 / 2 * ||W||^2     (the bias is not penalised)

which is scikit-learn's objective with C = 1 / (l2 * n) when all weights are 1.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .jobs import CancelToken, Progress, ProgressCallback, no_progress

# L2 strengths tried by cross-validation, strongest first (warm starts follow the path). With
# ~100-10,000 rows this spans scikit-learn's C from about 1e-3 to 1e3.
L2_GRID = tuple(float(v) for v in np.logspace(0, -6, 13))
DEFAULT_L2 = 1e-3  # used when a class is too small to cross-validate
CV_FOLDS = 5
# The strength is chosen on 2 repeats of the 5-fold split: with one, the choice follows the fold
# assignment's noise more (bench/head_vs_probe.py on the generated shapes set, 3 x 5 outer folds).
CV_REPEATS = 2
MAX_ITERATIONS = 500
CV_MAX_ITERATIONS = 100  # scikit-learn's default: enough to rank strengths, 5x cheaper
# Above this many rows the strength is chosen on a stratified sample of them: on 2 cores the
# full cross-validation took 250 s for 16,000 rows of 1,280 (it grows with the rows), and with
# that many rows the strength changes the fit less. The final fit uses every row.
CV_MAX_ROWS = 5000


@contextmanager
def one_thread():
    """Run the probe's fits on one CPU thread. Its matrices are small (rows x 1280 x classes),
    and with two threads each step waits for the other core: measured on 2 cores with other
    work running, choose_l2 on 250 hymenoptera rows took 28-53 s with 2 threads and 1.2 s with
    one, and even 12,000 rows fitted faster on one (0.55 s vs 0.76 s for 50 iterations)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class LinearHead:
    """A fitted linear head: logits = features @ weight.T + bias."""

    weight: np.ndarray  # (classes, feature_dim), float32
    bias: np.ndarray  # (classes,), float32
    l2: float
    cv_accuracy: dict[float, float] = field(default_factory=dict)  # l2 -> mean fold accuracy
    train_loss: float = float("nan")
    iterations: int = 0

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, np.float32) @ self.weight.T + self.bias

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = self.logits(features).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def copy_into(self, linear: nn.Linear) -> None:
        """Set an nn.Linear (e.g. a TransferModel head's) to this head's weights."""
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(self.weight))
            linear.bias.copy_(torch.from_numpy(self.bias))


def row_weights(labels: np.ndarray, num_classes: int, class_weights: str) -> np.ndarray:
    """Per-row loss weights: all ones, or ("auto") inverse class frequency with mean 1."""
    labels = np.asarray(labels, int)
    if class_weights != "auto":
        return np.ones(len(labels), np.float32)
    counts = np.bincount(labels, minlength=num_classes).astype(float)
    per_class = np.where(counts > 0, len(labels) / (num_classes * np.maximum(counts, 1)), 0.0)
    return per_class[labels].astype(np.float32)


def probe_loss(linear: nn.Linear, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor,
               l2: float) -> torch.Tensor:
    """The probe's objective (module docstring) for one linear layer: the one home of it."""
    ce = F.cross_entropy(linear(x), y, reduction="none")
    return (ce * weights).sum() / weights.sum() + 0.5 * l2 * linear.weight.pow(2).sum()


def lbfgs(params, max_iter: int) -> torch.optim.LBFGS:
    """The probe's optimiser: full-batch L-BFGS with a strong-Wolfe line search."""
    return torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, history_size=20,
                             tolerance_grad=1e-6, tolerance_change=1e-10,
                             line_search_fn="strong_wolfe")


def _fit(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, num_classes: int, l2: float,
         start: Optional[nn.Linear] = None, max_iter: int = MAX_ITERATIONS
         ) -> tuple[nn.Linear, float, int]:
    linear = nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():
        if start is not None:
            linear.load_state_dict(start.state_dict())
        else:
            linear.weight.zero_()
            linear.bias.zero_()
    optimizer = lbfgs(linear.parameters(), max_iter)

    def closure():
        optimizer.zero_grad()
        loss = probe_loss(linear, x, y, w, l2)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        loss = float(probe_loss(linear, x, y, w, l2))
    iterations = optimizer.state[optimizer._params[0]].get("n_iter", 0)
    return linear, loss, iterations


def stratified_folds(labels: Sequence[int], folds: int, seed: int) -> list[np.ndarray]:
    """Validation indices of each of `folds` stratified folds (scikit-learn's StratifiedKFold,
    shuffled with `seed`). The caller checks that every class has at least `folds` rows."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels, int)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed % 2**32)
    return [val for _, val in splitter.split(np.zeros(len(labels)), labels)]


def stratified_sample(labels: Sequence[int], max_rows: int, seed: int = 0,
                      min_per_class: int = 1) -> np.ndarray:
    """Sorted indices of about `max_rows` rows (all of them when there are not more), each
    class keeping its share and at least `min_per_class` rows (or all it has)."""
    y = np.asarray(labels, np.int64)
    if len(y) <= max_rows:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(y == c))[
        :max(min_per_class, round(max_rows * (y == c).sum() / len(y)))] for c in np.unique(y)]
    return np.sort(np.concatenate(keep))


def choose_l2(features: np.ndarray, labels: np.ndarray, num_classes: int, *,
              class_weights: str = "none", folds: int = CV_FOLDS, repeats: int = CV_REPEATS,
              seed: int = 0, grid: Sequence[float] = L2_GRID,
              cancel: Optional[CancelToken] = None,
              progress: ProgressCallback = no_progress) -> tuple[float, dict[float, float]]:
    """The L2 strength with the best mean fold accuracy over `repeats` differently shuffled
    `folds`-fold splits, and each strength's mean accuracy.

    When several strengths tie on the best accuracy, the middle one of them is taken. Breaking
    ties by log-loss picked the weakest (50x weaker than scikit-learn's LogisticRegressionCV)
    and cost 0.9 point on the shapes set; taking the strongest, as scikit-learn does, makes an
    easy set (every strength right on every fold) end at the strongest penalty, where the head
    gives the true class 36% on a 3-class set. The middle: shapes -0.4 point against
    LogisticRegressionCV, hymenoptera +0.2 (bench/head_vs_probe.py), and 1e-3 on an easy set.
    Falls back to DEFAULT_L2 when the smallest class has fewer than 2 rows. Above CV_MAX_ROWS
    rows, the folds are made of a stratified sample of that many."""
    labels = np.asarray(labels, int)
    if len(labels) > CV_MAX_ROWS:
        keep = stratified_sample(labels, CV_MAX_ROWS, seed, min_per_class=folds)
        features, labels = features[keep], labels[keep]
    present = np.bincount(labels, minlength=num_classes)
    smallest = int(present[present > 0].min()) if present.any() else 0
    folds = min(folds, smallest)
    if folds < 2:
        return DEFAULT_L2, {}
    with one_thread():
        return _cross_validate(features, labels, num_classes, class_weights, folds, repeats,
                               seed, grid, cancel or CancelToken(), progress)


def _cross_validate(features: np.ndarray, labels: np.ndarray, num_classes: int,
                    class_weights: str, folds: int, repeats: int, seed: int,
                    grid: Sequence[float], cancel: CancelToken,
                    progress: ProgressCallback) -> tuple[float, dict[float, float]]:
    x_all = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    y_all = torch.from_numpy(labels).long()
    w_all = torch.from_numpy(row_weights(labels, num_classes, class_weights))
    accuracy = {l2: 0.0 for l2 in grid}  # summed over folds
    fold_indices = [val for r in range(repeats) for val in stratified_folds(labels, folds, seed + r)]
    for k, val in enumerate(fold_indices):
        train = np.setdiff1d(np.arange(len(labels)), val)
        previous = None
        for l2 in grid:
            cancel.raise_if_cancelled()
            previous, _, _ = _fit(x_all[train], y_all[train], w_all[train], num_classes, l2,
                                  start=previous, max_iter=CV_MAX_ITERATIONS)
            with torch.no_grad():
                hits = previous(x_all[val]).argmax(1) == y_all[val]
                accuracy[l2] += float(hits.float().mean())
        progress(Progress((k + 1) / len(fold_indices),
                          f"Choosing the regularisation: fold {k + 1}/{len(fold_indices)}",
                          stage="probe"))
    top = max(round(a, 9) for a in accuracy.values())
    tied = [l2 for l2 in grid if round(accuracy[l2], 9) == top]
    best = tied[len(tied) // 2]
    return best, {l2: total / len(fold_indices) for l2, total in accuracy.items()}


def fit_head(features: np.ndarray, labels: Sequence[int], num_classes: int, *,
             l2: Optional[float] = None, class_weights: str = "none",
             cv_features: Optional[np.ndarray] = None, cv_labels: Optional[Sequence[int]] = None,
             folds: int = CV_FOLDS, repeats: int = CV_REPEATS, grid: Sequence[float] = L2_GRID,
             seed: int = 0, cancel: Optional[CancelToken] = None,
             progress: ProgressCallback = no_progress) -> LinearHead:
    """Fit the linear probe on (features, labels) to convergence.

    Args:
        features: (rows, dim) backbone features; labels: class index per row.
        l2: The L2 strength; None chooses it by stratified `folds`-fold cross-validation.
        class_weights: "none", or "auto" to weigh rows by inverse class frequency.
        cv_features, cv_labels: Rows to cross-validate on instead of (features, labels), e.g.
            one centre view per image when `features` also holds augmented views (folds must
            not split an image's views).
        folds, repeats, grid: The inner cross-validation's folds, its repeats and the candidate
            strengths.
        seed: Seed of the fold assignment.
    """
    labels = np.asarray(labels, int)
    cv = {}
    if l2 is None:
        l2, cv = choose_l2(features if cv_features is None else cv_features,
                           labels if cv_labels is None else np.asarray(cv_labels, int),
                           num_classes, class_weights=class_weights, folds=folds,
                           repeats=repeats, seed=seed,
                           grid=grid, cancel=cancel, progress=progress)
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    w = torch.from_numpy(row_weights(labels, num_classes, class_weights))
    with one_thread():
        linear, loss, iterations = _fit(x, torch.from_numpy(labels).long(), w, num_classes, l2)
    return LinearHead(linear.weight.detach().numpy().copy(), linear.bias.detach().numpy().copy(),
                      l2, cv, loss, iterations)


__all__ = ["LinearHead", "fit_head", "choose_l2", "stratified_folds", "row_weights",
           "probe_loss", "lbfgs", "L2_GRID", "CV_FOLDS"]
