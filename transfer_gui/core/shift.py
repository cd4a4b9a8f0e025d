"""How far new images are from the training images: a kernel two-sample test on backbone features.

The statistic is the unbiased squared Maximum Mean Discrepancy (MMD², Gretton et al. 2012) with a
Gaussian (RBF) kernel whose bandwidth is the median pairwise squared distance of the pooled sample
(the median heuristic). Its p-value comes from a permutation test: the images are relabelled at
random many times and the statistic recomputed; all permutations are one matrix product, no
per-permutation Python loop. Each side is capped at `MAX_PER_SIDE` images (a seeded random sample),
which keeps a test under a second and is said in the report.

Everything here takes feature arrays, so the features can come from the model's own backbone
(`core/model_features.py`) or from a reference stored with the model. Qt-free, torch-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

PERMUTATIONS = 1000  # permutations of the test; the smallest p-value it can give is 1/1001
MAX_PER_SIDE = 500  # images per side of a test (a seeded random sample of more)
MIN_PER_SIDE = 5  # a class with fewer images on either side is not tested
CLEAR, SOME, NONE = "clear", "some", "none"  # how different the new images look
CLEAR_P, SOME_P = 0.01, 0.05  # p-values below which a shift is called clear / likely


@dataclass(frozen=True)
class MMDTest:
    """One two-sample test: `mmd2` (unbiased MMD², about 0 when alike) and its `p_value`."""

    mmd2: float
    p_value: float
    n_reference: int
    n_new: int
    permutations: int
    bandwidth: float  # the kernel's median squared distance


@dataclass(frozen=True)
class ClassShift:
    """The test for one class: its training images against the new images predicted as it
    (`test` is None when either side has fewer than MIN_PER_SIDE images). `adjusted_p` is its
    p-value adjusted for testing every class (Holm), what the words about the class go by:
    with ten classes, one of them falls below 0.05 by chance alone in 40% of comparisons."""

    name: str
    n_reference: int
    n_new: int
    test: Optional[MMDTest]
    adjusted_p: Optional[float] = None


@dataclass
class ShiftReport:
    """What "Compare with new images" found.

    Attributes:
        overall: All compared new images against all compared training images.
        per_class: One entry per class of the model, in its order.
        new_images: New images found; `compared_new` of them (readable) were compared.
        reference_images: Training images available; `compared_reference` were compared.
        capped: Whether either side had more than MAX_PER_SIDE images (a sample was taken).
        unreadable: (path, reason) of new images that could not be read.
        flagged_share: Share of new images flagged "unlike the training data", when the model
            can score that (None otherwise).
    """

    overall: MMDTest
    per_class: list[ClassShift]
    new_images: int
    compared_new: int
    reference_images: int
    compared_reference: int
    capped: bool = False
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    flagged_share: Optional[float] = None

    @property
    def level(self) -> str:
        return shift_level(self.overall.p_value)

    def shifted_classes(self) -> list[ClassShift]:
        """The classes whose new images differ clearly from their training ones (adjusted
        p-value below CLEAR_P)."""
        return [c for c in self.per_class if c.adjusted_p is not None and c.adjusted_p < CLEAR_P]

    def summary(self) -> str:
        """The finding in plain words, a few sentences."""
        return describe(self)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["level"] = self.level
        out["summary"] = self.summary()
        out["unreadable"] = [{"path": p, "reason": r} for p, r in self.unreadable]
        return out


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of several p-values (each at least its own, at most 1)."""
    order = np.argsort(p_values, kind="stable")
    m, running = len(p_values), 0.0
    adjusted = [1.0] * m
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted


def shift_level(p_value: float) -> str:
    """CLEAR below CLEAR_P, SOME below SOME_P, else NONE."""
    return CLEAR if p_value < CLEAR_P else SOME if p_value < SOME_P else NONE


def sample_rows(count: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a random sample of at most `cap` of `count` rows (all when fewer)."""
    if count <= cap:
        return np.arange(count)
    return np.sort(rng.choice(count, cap, replace=False))


def _squared_distances(z: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", z, z)
    d = sq[:, None] + sq[None, :] - 2.0 * (z @ z.T)
    np.maximum(d, 0.0, out=d)
    np.fill_diagonal(d, 0.0)
    return d


def _median_bandwidth(d: np.ndarray) -> float:
    """The median of the off-diagonal squared distances (1.0 when the points all coincide)."""
    upper = d[np.triu_indices(len(d), 1)]
    median = float(np.median(upper)) if upper.size else 0.0
    return median if median > 0 else 1.0


def _mmd2_rows(labels: np.ndarray, k0: np.ndarray, n: int, m: int) -> np.ndarray:
    """Unbiased MMD² for each row of `labels` (1 = reference side, 0 = new side), given the
    kernel matrix `k0` with a zero diagonal. One matrix product for all rows."""
    row_sums = k0.sum(axis=1)
    total = row_sums.sum()
    weighted = labels @ k0
    s_xx = np.einsum("pi,pi->p", weighted, labels)
    s_x = labels @ row_sums
    s_yy = total - 2.0 * s_x + s_xx
    s_xy = s_x - s_xx
    return s_xx / (n * (n - 1)) + s_yy / (m * (m - 1)) - 2.0 * s_xy / (n * m)


def mmd_test(reference: np.ndarray, new: np.ndarray, *, permutations: int = PERMUTATIONS,
             seed: int = 0, max_per_side: int = MAX_PER_SIDE) -> MMDTest:
    """Test whether `new` (rows = images) comes from the distribution of `reference`.

    Args:
        reference, new: Feature arrays (n, d) and (m, d), at least 2 rows each.
        permutations: Random relabellings of the permutation test.
        seed: Seeds the sampling of capped sides and the permutations (same seed, same answer).
        max_per_side: At most this many rows of each side are used (a random sample).

    Returns:
        The MMD² of the two samples and the permutation p-value (1 + #{permuted >= observed})
        / (1 + permutations).
    """
    reference, new = np.asarray(reference, np.float64), np.asarray(new, np.float64)
    if reference.ndim != 2 or new.ndim != 2 or reference.shape[1] != new.shape[1]:
        raise ValueError(f"features must be 2-D with the same width, not {reference.shape} "
                         f"and {new.shape}")
    rng = np.random.default_rng(seed)
    x = reference[sample_rows(len(reference), max_per_side, rng)]
    y = new[sample_rows(len(new), max_per_side, rng)]
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise ValueError(f"each side needs at least 2 images, not {n} and {m}")
    d = _squared_distances(np.vstack([x, y]))
    bandwidth = _median_bandwidth(d)
    k0 = np.exp(-d / bandwidth)
    np.fill_diagonal(k0, 0.0)
    observed = np.concatenate([np.ones(n), np.zeros(m)])
    shuffled = rng.permuted(np.tile(observed, (permutations, 1)), axis=1)
    stats = _mmd2_rows(np.vstack([observed, shuffled]), k0, n, m)
    tolerance = 1e-12 * max(1.0, abs(stats[0]))
    exceed = int(np.count_nonzero(stats[1:] >= stats[0] - tolerance))
    return MMDTest(float(stats[0]), (1 + exceed) / (1 + permutations), n, m, permutations,
                   bandwidth)


def compare_features(reference: np.ndarray, reference_labels: Sequence[int], new: np.ndarray,
                     new_predicted: Sequence[int], class_names: Sequence[str], *,
                     permutations: int = PERMUTATIONS, seed: int = 0,
                     max_per_side: int = MAX_PER_SIDE) -> tuple[MMDTest, list[ClassShift]]:
    """The overall test and one per class (training images of the class against the new images
    the model predicts as that class)."""
    ref_labels, new_labels = np.asarray(reference_labels), np.asarray(new_predicted)
    overall = mmd_test(reference, new, permutations=permutations, seed=seed,
                       max_per_side=max_per_side)
    rows = []
    for c, name in enumerate(class_names):
        xr, xn = reference[ref_labels == c], new[new_labels == c]
        test = None
        if len(xr) >= MIN_PER_SIDE and len(xn) >= MIN_PER_SIDE:
            test = mmd_test(xr, xn, permutations=permutations, seed=seed + 1 + c,
                            max_per_side=max_per_side)
        rows.append((name, len(xr), len(xn), test))
    adjusted = iter(holm_adjusted([t.p_value for *_, t in rows if t is not None]))
    return overall, [ClassShift(*row, adjusted_p=next(adjusted) if row[3] is not None else None)
                     for row in rows]


def p_text(p_value: float, permutations: int, tests: int = 1) -> str:
    """"p = 0.43", or "p <= 0.001" at the smallest p-value `permutations` can give (times
    `tests` for a p-value adjusted for that many tests)."""
    floor = min(1.0, tests / (1 + permutations))
    return f"p <= {floor:.2g}" if p_value <= floor * (1 + 1e-9) else f"p = {p_value:.3g}"


def class_p_text(report: "ShiftReport", shift: ClassShift) -> str:
    """A class's adjusted p-value as text ("" when the class was not tested)."""
    if shift.test is None or shift.adjusted_p is None:
        return ""
    tested = sum(1 for c in report.per_class if c.test is not None)
    return p_text(shift.adjusted_p, shift.test.permutations, tested)


def describe(report: ShiftReport) -> str:
    """A few sentences a non-statistician can act on."""
    t = report.overall
    level = report.level
    if level == CLEAR:
        text = ("These images look clearly different from your training images; expect lower "
                "accuracy on them. Check a few predictions by hand, add such images to the "
                "training data, or recalibrate the model to them.")
    elif level == SOME:
        text = ("These images look somewhat different from your training images; accuracy on "
                "them may be lower. Check a few predictions by hand.")
    else:
        text = ("These images look like your training images: no sign of a difference was "
                "found, so expect about the accuracy measured on the validation images.")
    text += f" (Kernel MMD test: {p_text(t.p_value, t.permutations)}.)"
    shifted = report.shifted_classes()
    if shifted:
        text += " Classes where the new images differ most: " + ", ".join(
            c.name for c in sorted(shifted, key=lambda c: c.adjusted_p)) + "."
    if report.flagged_share is not None:
        from .ood import FLAG_WORDS  # the Predict table's words for the same flag

        text += f" {report.flagged_share:.0%} of the new images are flagged “{FLAG_WORDS}”."
    if report.capped:
        text += (f" Compared a random {report.compared_new} of {report.new_images} new images "
                 f"with {report.compared_reference} of {report.reference_images} training "
                 f"images.")
    if report.unreadable:
        text += f" {len(report.unreadable)} file(s) could not be read and were left out."
    return text
