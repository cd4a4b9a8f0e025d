"""How well a backbone's features suit a labelled dataset, without training: two cheap scores.

`rank.py` puts them beside the linear probe's cross-validated accuracy. Both are pure numpy, take
the features already extracted (cached) and run in well under a second on a few thousand images:

- `knn_accuracy`: leave-one-out k-nearest-neighbour accuracy with cosine similarity. It needs no
  fitting at all, so it checks the probe: a backbone whose neighbours already share their labels
  has features that group the classes.
- `logme`: LogME (Kaichao You, Yong Liu, Jianmin Wang, Mingsheng Long, "LogME: Practical
  Assessment of Pre-trained Models for Transfer Learning", ICML 2021). Per class, one-vs-rest
  targets are modelled as Bayesian linear regression on the features; the log of the maximised
  marginal likelihood (the *evidence*), per image and averaged over classes, correlated with
  fine-tuned accuracy across backbones in the paper's experiments better than other scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_NEIGHBOURS = 5
# Rows of the similarity matrix computed at once: 2,048 x 20,000 float32 is 160 MB at most.
KNN_BLOCK = 2048
LOGME_MAX_ITERATIONS = 100
LOGME_TOLERANCE = 1e-4  # relative change of alpha / beta at which the fixed point is reached


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = DEFAULT_NEIGHBOURS) -> float:
    """Leave-one-out accuracy of a `k`-nearest-neighbour vote on L2-normalised features.

    Each image is classified by the labels of its `k` most cosine-similar *other* images (itself
    excluded); the class with the most votes wins, and a tie in votes goes to the tied class
    whose neighbours are the more similar in total. Vectorised over blocks of rows (no loop over
    pairs). `k` is capped at the number of other images; NaN for fewer than 2 images.
    """
    x = np.asarray(features, np.float32)
    y = np.asarray(labels, int)
    n = len(y)
    if n < 2:
        return float("nan")
    k = max(1, min(int(k), n - 1))
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    num_classes = int(y.max()) + 1
    correct = 0
    for start in range(0, n, KNN_BLOCK):
        stop = min(start + KNN_BLOCK, n)
        rows = np.arange(stop - start)
        sims = x[start:stop] @ x.T
        sims[rows, np.arange(start, stop)] = -np.inf  # never one's own neighbour
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        near_sims = np.take_along_axis(sims, nearest, axis=1).astype(np.float64)
        votes = np.zeros((len(rows), num_classes))
        closeness = np.zeros((len(rows), num_classes))
        np.add.at(votes, (rows[:, None], y[nearest]), 1.0)
        np.add.at(closeness, (rows[:, None], y[nearest]), near_sims)
        # summed cosine similarities lie in [-k, k]: one vote more always outweighs them
        predicted = (votes * (2 * k + 1) + closeness).argmax(axis=1)
        correct += int((predicted == y[start:stop]).sum())
    return correct / n


@dataclass(frozen=True)
class ClassEvidence:
    """One class's maximised evidence (log marginal likelihood per image) and where it is."""

    evidence: float
    alpha: float  # precision of the prior on the weights
    beta: float  # precision of the noise
    iterations: int


def logme(features: np.ndarray, labels: np.ndarray) -> float:
    """LogME of `features` for `labels`: the mean over classes of `logme_per_class`. Higher is
    better; comparable across backbones on the same images (it does not depend on the scale of
    the features). See the module docstring for the paper."""
    return float(np.mean([c.evidence for c in logme_per_class(features, labels)]))


def logme_per_class(features: np.ndarray, labels: np.ndarray) -> list[ClassEvidence]:
    """Per class c, the evidence of y = 1[label == c] under y = F w + noise with
    w ~ N(0, I / alpha) and noise ~ N(0, I / beta), maximised over alpha and beta by the
    paper's fixed-point iteration (MacKay's updates):

        gamma = sum_i beta s_i / (alpha + beta s_i),   alpha = gamma / |m|^2,
        beta = (N - gamma) / |F m - y|^2,   m = beta A^-1 F^T y,   A = alpha I + beta F^T F

    where s_i are the eigenvalues of F^T F. The features' SVD is computed once and shared by
    all classes, so each iteration costs O(min(N, D)). The evidence, divided by N:

        D/2 log alpha + N/2 log beta - beta/2 |F m - y|^2 - alpha/2 |m|^2
        - 1/2 log det A - N/2 log 2 pi

    log det A counts all D eigenvalues, including the D - rank zero ones of F^T F (log alpha
    each), which matters when there are fewer images than feature dimensions (1,280 for
    EfficientNet-Lite): the reference code's faster variant leaves them out there, its ICML
    variant (a D x D decomposition) keeps them, as here.
    """
    f = np.asarray(features, np.float64)
    y_all = np.asarray(labels, int)
    n, d = f.shape
    u, s, _ = np.linalg.svd(f, full_matrices=False)  # u: (n, r), r = min(n, d)
    sigma = s ** 2
    null_dims = d - len(sigma)
    out = []
    for c in range(int(y_all.max()) + 1):
        y = (y_all == c).astype(np.float64)
        z2 = (u.T @ y) ** 2  # the targets in the features' singular directions
        outside = max(float(y @ y - z2.sum()), 0.0)  # the part no weights can fit
        tiny = 1e-12 * (1.0 + float(y @ y))
        alpha, beta, iterations = 1.0, 1.0, 0
        for iterations in range(1, LOGME_MAX_ITERATIONS + 1):
            t = alpha / beta
            gamma = float((sigma / (sigma + t)).sum())
            weights2, residual2 = _fit_sizes(sigma, z2, outside, t)
            alpha = gamma / max(weights2, tiny)
            beta = max(n - gamma, tiny) / max(residual2, tiny)
            if abs(alpha / beta - t) / t < LOGME_TOLERANCE:
                break
        weights2, residual2 = _fit_sizes(sigma, z2, outside, alpha / beta)
        log_det = float(np.log(alpha + beta * sigma).sum()) + null_dims * math.log(alpha)
        evidence = (d / 2 * math.log(alpha) + n / 2 * math.log(beta) - beta / 2 * residual2
                    - alpha / 2 * weights2 - log_det / 2 - n / 2 * math.log(2 * math.pi))
        out.append(ClassEvidence(evidence / n, alpha, beta, iterations))
    return out


def _fit_sizes(sigma: np.ndarray, z2: np.ndarray, outside: float, t: float) -> tuple[float, float]:
    """|m|^2 and |F m - y|^2 of the posterior mean at alpha / beta = t, in the SVD's terms."""
    weights2 = float((sigma * z2 / (sigma + t) ** 2).sum())
    residual2 = float((z2 * (t / (sigma + t)) ** 2).sum()) + outside
    return weights2, residual2
