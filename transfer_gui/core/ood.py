""""Unlike the training data": how far an image's backbone features are from every class.

The detector is fitted at the end of training on the trained model's own pooled backbone features
(what its head sees): the Mahalanobis distance to the nearest class mean, with one covariance
shared by the classes (Ledoit-Wolf shrinkage), on L2-normalised features. Normalising mattered:
on hymenoptera (Lite0) the raw features let 38% of random-noise images and 73% of colour
gradients pass as bees or ants; normalised, all were flagged. Relative Mahalanobis flagged none
of them; k-nearest-neighbour cosine distance flagged all with slightly less margin and needs the
training features at prediction time (figures: bench/unlike_training.py, issue 14).

The covariance is stored in low-rank form (its top `MAX_COMPONENTS` directions and one variance
for the rest), exact when there are fewer training images than that. A score is the distance
divided by the threshold, so a score above 1 is flagged. The threshold is set on held-out
in-domain images (the validation images plus training images scored out-of-fold) at the
conformal 95% rank; on generated shapes (90 training images) a plain 95th percentile of the
validation images alone flagged 12-14% of new in-domain images, the 95th percentile of the pooled
held-out distances 4.9% (5% of 40 splits above 10%), the conformal rank 3.4% (none above 10%).

Stored in model.pt as the "ood" block (tensors, strings and floats only), with a small stratified
"feature_reference" sample of training features for dataset-shift tests. Read them through
`ood_block(loaded)` and `reference_features(loaded)` only. Qt-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np
import torch

from .heads import stratified_sample

if TYPE_CHECKING:
    from .errors import ModelFileError
    from .model_file import LoadedModel

OOD_KEY = "ood"
REFERENCE_KEY = "feature_reference"
METHOD = "mahalanobis_l2_shared"
MAX_COMPONENTS = 256  # covariance directions stored; the rest share one variance
PERCENTILE = 95.0  # of held-out in-domain distances: the flag threshold
OOF_FOLDS = 5
MAX_OOF_IMAGES = 4000  # training images scored out-of-fold for the threshold (a sample above)
MAX_REFERENCE_ROWS = 512
# Training rows the detector is fitted on (a stratified sample above): class means and the
# leading directions of a 1,280-dimensional covariance are well estimated from 10,000, and the
# fit's float64 copies of all 80,000 training rows of a 100,000-image set would take ~2.5 GB.
MAX_FIT_ROWS = 10_000
FLAG_WORDS = "not like any training class"
SCORE_HELP = ("How unlike the training images this image is, from the features the model "
              "sees: 1.0 is the edge of the usual (95 of 100 held-out training-like images score "
              "below it). Above 1.0 the image is flagged \u201cnot like any training class\u201d: "
              "it may show something the model was never taught, and its class is only a guess.")


@dataclass(frozen=True)
class UnlikeDetector:
    """Class means, a shared covariance in low-rank form, and the flag threshold."""

    means: np.ndarray  # (classes, dim) float32, of L2-normalised features
    components: np.ndarray  # (k, dim) float32, orthonormal rows
    variances: np.ndarray  # (k,) float64 along each component
    noise_variance: float  # variance along every other direction
    threshold: float  # distance above which an image is flagged
    calibrated_on: str  # which images set the threshold, in words
    method: str = METHOD

    def distances(self, features: np.ndarray) -> np.ndarray:
        """(n,) Mahalanobis distance of each row of `features` to its nearest class mean."""
        x = _normalised(np.asarray(features, np.float64))
        comps = self.components.astype(np.float64)
        proj_x = x @ comps.T
        proj_m = self.means.astype(np.float64) @ comps.T
        sq_x = (x * x).sum(1)
        best = np.full(len(x), np.inf)
        for mean, pm in zip(self.means.astype(np.float64), proj_m):
            p = proj_x - pm
            residual = np.maximum(sq_x - 2 * x @ mean + mean @ mean - (p * p).sum(1), 0.0)
            best = np.minimum(best, (p * p / self.variances).sum(1)
                              + residual / self.noise_variance)
        return np.sqrt(best)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """(n,) distances as multiples of the threshold: above 1 is "unlike the training data"."""
        return self.distances(features) / self.threshold

    def to_block(self) -> dict[str, Any]:
        """The "ood" block of model.pt: tensors, strings and floats only."""
        return {"method": self.method, "means": torch.from_numpy(self.means.astype(np.float32)),
                "components": torch.from_numpy(self.components.astype(np.float32)),
                "variances": torch.from_numpy(self.variances.astype(np.float64)),
                "noise_variance": float(self.noise_variance), "threshold": float(self.threshold),
                "calibrated_on": self.calibrated_on}


def is_flagged(score: Optional[float]) -> Optional[bool]:
    """Whether a score is "unlike the training data"; None without a score."""
    return None if score is None else bool(score > 1.0)


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _fit(x: np.ndarray, y: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray, float]:
    """Means, components, variances and noise variance of normalised features `x`."""
    from sklearn.covariance import ledoit_wolf_shrinkage

    x = _normalised(np.asarray(x, np.float64))  # a new array: x itself is not changed
    dim = x.shape[1]
    means = np.zeros((num_classes, dim))
    for c in range(num_classes):
        if (y == c).any():
            means[c] = x[y == c].mean(0)
    z = x - means[y]
    shrink = float(ledoit_wolf_shrinkage(z, assume_centered=True)) if len(z) > 1 else 1.0
    mu = max(float(np.vdot(z, z) / z.size), 1e-12)
    if len(z) <= dim:  # the covariance's eigenvectors from the smaller (n x n) Gram matrix
        eig, vecs = np.linalg.eigh(z @ z.T / len(z))
        eig, vecs = eig[::-1].clip(min=0), vecs[:, ::-1]
        vt = (vecs / np.sqrt(np.maximum(eig, 1e-30) * len(z))).T @ z
    else:
        eig, vecs = np.linalg.eigh(z.T @ z / len(z))
        eig, vt = eig[::-1].clip(min=0), vecs[:, ::-1].T
    k = min(MAX_COMPONENTS, int((eig > 1e-9 * max(eig.max(), 1e-30)).sum()))
    total = (1 - shrink) * eig + shrink * mu  # Ledoit-Wolf: shrunk towards mu times identity
    rest = (total[k:].sum() + (dim - len(eig)) * shrink * mu) / max(dim - k, 1)
    return means, vt[:k], total[:k], float(max(rest, 1e-12))


def _detector(x: np.ndarray, y: np.ndarray, num_classes: int) -> UnlikeDetector:
    means, comps, variances, noise = _fit(x, y, num_classes)
    return UnlikeDetector(means.astype(np.float32), comps.astype(np.float32), variances, noise,
                          1.0, "")


def _out_of_fold(x: np.ndarray, y: np.ndarray, num_classes: int, seed: int) -> np.ndarray:
    """Distances of (at most MAX_OOF_IMAGES) training images from detectors fitted without them."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y, minlength=num_classes)
    folds = min(OOF_FOLDS, int(counts[counts > 0].min()))
    if folds < 2:
        return np.zeros(0)
    fold = np.empty(len(y), int)
    for c in np.unique(y):  # stratified: each class spread over the folds
        idx = rng.permutation(np.flatnonzero(y == c))
        fold[idx] = np.arange(len(idx)) % folds
    scored = rng.permutation(len(y))[:MAX_OOF_IMAGES]
    out = []
    for f in range(folds):
        held = scored[fold[scored] == f]
        if len(held):
            out.append(_detector(x[fold != f], y[fold != f], num_classes).distances(x[held]))
    return np.concatenate(out) if out else np.zeros(0)


def conformal_quantile(values: np.ndarray, level: float) -> float:
    """The ceil((n + 1) * level)-th smallest of n values (the largest when that is beyond n): a
    new value from the same distribution is at most this with probability >= level (split
    conformal prediction), where a plain percentile of a few values flags too many."""
    ordered = np.sort(np.asarray(values, np.float64))
    rank = min(math.ceil((len(ordered) + 1) * level), len(ordered))
    return float(ordered[rank - 1])


def fit_detector(train: np.ndarray, train_labels: np.ndarray, val: np.ndarray,
                 num_classes: int, seed: int = 0) -> UnlikeDetector:
    """The detector for training features (rows = images) and labels, its threshold the
    conformal PERCENTILE rank of the distances of the validation images and of out-of-fold
    training images."""
    y = np.asarray(train_labels, int)
    x = np.asarray(train, np.float64)
    held = [_out_of_fold(x, y, num_classes, seed)]
    detector = _detector(x, y, num_classes)
    if len(val):
        held.insert(0, detector.distances(val))
    calibration = np.concatenate(held)
    n_val, n_oof = len(val), len(calibration) - len(val)
    if not len(calibration):  # no held-out image at all: the training images themselves
        calibration, words = detector.distances(x), f"{len(x)} training images (no held-out image)"
    else:
        words = f"{n_val} validation images and {n_oof} training images scored out-of-fold"
    threshold = conformal_quantile(calibration, PERCENTILE / 100)
    if not math.isfinite(threshold) or threshold <= 0:
        threshold = 1.0
    return UnlikeDetector(detector.means, detector.components, detector.variances,
                          detector.noise_variance, threshold,
                          f"{PERCENTILE:g}% of {words} score below it")


def reference_block(train: np.ndarray, train_labels: np.ndarray, seed: int = 0,
                    max_rows: int = MAX_REFERENCE_ROWS) -> dict[str, torch.Tensor]:
    """A "feature_reference" block: at most `max_rows` training feature rows (float16), the same
    share of each class, with their labels."""
    y = np.asarray(train_labels, np.int64)
    keep = stratified_sample(y, max_rows, seed)[:max_rows]
    return {"features": torch.from_numpy(np.asarray(train, np.float32)[keep]).half(),
            "labels": torch.from_numpy(y[keep])}


def training_blocks(train: np.ndarray, train_labels: np.ndarray, val: np.ndarray,
                    num_classes: int, seed: int = 0) -> dict[str, Any]:
    """The optional model.pt blocks training adds: "ood" and "feature_reference". The
    detector is fitted on at most MAX_FIT_ROWS training rows (a stratified sample)."""
    keep = stratified_sample(train_labels, MAX_FIT_ROWS, seed)
    train, train_labels = np.asarray(train)[keep], np.asarray(train_labels)[keep]
    return {OOD_KEY: fit_detector(train, train_labels, val, num_classes, seed).to_block(),
            REFERENCE_KEY: reference_block(train, train_labels, seed)}


# ------------------------------------------------------------------ reading model files


def checked_blocks(data: dict[str, Any], num_classes: int, dim: int,
                   bad: Callable[[str], "ModelFileError"]) -> dict[str, Any]:
    """The optional blocks of a model file, checked: {OOD_KEY: UnlikeDetector, REFERENCE_KEY:
    (features float32, labels int64)}, each only when the file has it. A block with non-finite
    numbers or wrong shapes raises `bad(why)`."""
    out: dict[str, Any] = {}
    if data.get(OOD_KEY) is not None:
        out[OOD_KEY] = _checked_detector(data[OOD_KEY], num_classes, dim, bad)
    if data.get(REFERENCE_KEY) is not None:
        out[REFERENCE_KEY] = _checked_reference(data[REFERENCE_KEY], num_classes, dim, bad)
    return out


def _tensor(raw: dict, key: str, shape: tuple, what: str,
            bad: Callable[[str], "ModelFileError"]) -> np.ndarray:
    value = raw.get(key)
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise bad(f"its {what} block has no {key} numbers")
    if value.ndim != len(shape) or any(want is not None and got != want
                                       for got, want in zip(value.shape, shape)):
        raise bad(f"its {what} block's {key} has shape {tuple(value.shape)}, not {shape}")
    if not bool(torch.isfinite(value).all()):
        raise bad(f"its {what} block's {key} holds NaN or infinite values")
    return value.double().numpy() if value.dtype == torch.float64 else value.float().numpy()


def _positive(raw: dict, key: str, bad: Callable[[str], "ModelFileError"]) -> float:
    value = raw.get(key)
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or not math.isfinite(value) or value <= 0):
        raise bad(f"its unlike-the-training-data block's {key} is {value!r}, not a number above 0")
    return float(value)


def _checked_detector(raw: Any, num_classes: int, dim: int,
                      bad: Callable[[str], "ModelFileError"]) -> UnlikeDetector:
    what = "unlike-the-training-data"
    if not isinstance(raw, dict) or raw.get("method") != METHOD:
        raise bad(f"its {what} block is not one this version reads (method "
                  f"{raw.get('method') if isinstance(raw, dict) else raw!r})")
    means = _tensor(raw, "means", (num_classes, dim), what, bad)
    components = _tensor(raw, "components", (None, dim), what, bad)
    variances = _tensor(raw, "variances", (len(components),), what, bad).astype(np.float64)
    if not (variances > 0).all():
        raise bad(f"its {what} block's variances are not all above 0")
    calibrated = raw.get("calibrated_on", "")
    if not isinstance(calibrated, str):
        raise bad(f"its {what} block's calibrated_on is not words")
    return UnlikeDetector(means, components, variances, _positive(raw, "noise_variance", bad),
                          _positive(raw, "threshold", bad), calibrated)


def _checked_reference(raw: Any, num_classes: int, dim: int,
                       bad: Callable[[str], "ModelFileError"]) -> tuple[np.ndarray, np.ndarray]:
    what = "training-feature sample"
    if not isinstance(raw, dict):
        raise bad(f"its {what} block is not a table")
    features = _tensor(raw, "features", (None, dim), what, bad).astype(np.float32)
    labels = raw.get("labels")
    if (not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64
            or tuple(labels.shape) != (len(features),)):
        raise bad(f"its {what} block's labels are not {len(features)} whole numbers")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise bad(f"its {what} block's labels are not class numbers 0 to {num_classes - 1}")
    return features, labels.numpy().copy()


def ood_block(loaded: "LoadedModel") -> Optional[UnlikeDetector]:
    """The model's "unlike the training data" detector; None for models trained without one."""
    return loaded.blocks.get(OOD_KEY)


def reference_features(loaded: "LoadedModel") -> Optional[tuple[np.ndarray, np.ndarray]]:
    """(features float32 (n, dim), labels int64 (n,)): the sample of training features stored
    with the model (features of the trained model's own backbone); None for older models."""
    return loaded.blocks.get(REFERENCE_KEY)
