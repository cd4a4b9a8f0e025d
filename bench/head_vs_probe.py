"""Feature extraction's head against scikit-learn's linear probe, on the same cached features.

One validation split of 153 images moves in steps of 0.65 points, so "within 0.5 point of the
best linear probe" is measured here over repeated stratified k-fold on every image of the dataset
(train + val + test pooled): per outer fold, `fit_head` (the product's head: L-BFGS, L2 chosen by
inner cross-validation, class weights as named) and scikit-learn's `LogisticRegressionCV`
(L-BFGS, multinomial, C chosen by 5-fold CV on the same training rows) are fitted on the outer
training rows and scored on the held-out rows. Prints mean accuracy and balanced accuracy of
each, and the mean paired difference with its standard error.

    python bench/head_vs_probe.py                      # hymenoptera, shapes, imbalanced
    python bench/head_vs_probe.py --datasets hymenoptera --repeats 5
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

try:
    from . import _common as common
    from .accuracy import DATASETS, make_dataset, reference_probe_model
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common
    from accuracy import DATASETS, make_dataset, reference_probe_model


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3, help="outer k-fold repeats (seeds 0..R-1)")
    p.add_argument("--backbone", default=common.DEFAULT_BACKBONE)
    p.add_argument("--workdir", default="/tmp/bench_head_vs_probe")
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args(argv)


def features_of(data: str, backbone: str) -> tuple[np.ndarray, np.ndarray]:
    from transfer_gui.core.data import scan_dataset
    from transfer_gui.core.features import dataset_features
    from transfer_gui.core.models import get_backbone

    scan = scan_dataset(data)
    feats = dataset_features(get_backbone(backbone), [s.path for s in scan.samples])
    labels = np.array([s.label for s in scan.samples])
    return feats.center(range(len(labels))), labels


def compare(x: np.ndarray, y: np.ndarray, folds: int, repeats: int) -> dict[str, list[float]]:
    from sklearn.metrics import balanced_accuracy_score

    from transfer_gui.core.heads import fit_head, stratified_folds

    classes = int(y.max()) + 1
    scores: dict[str, list[float]] = {}
    for seed in range(repeats):
        for held_out in stratified_folds(y, folds, seed):
            train = np.setdiff1d(np.arange(len(y)), held_out)
            preds = {}
            for weights in ("auto", "none"):
                head = fit_head(x[train], y[train], classes, class_weights=weights, seed=seed)
                preds[f"head_{weights}"] = head.logits(x[held_out]).argmax(1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                preds["sklearn"] = reference_probe_model().fit(x[train], y[train]).predict(
                    x[held_out])
            print(f"  fold done (repeat {seed + 1}): " + ", ".join(
                f"{n} {float((p == y[held_out]).mean()):.3f}" for n, p in preds.items()), flush=True)
            for name, pred in preds.items():
                scores.setdefault(f"{name}_acc", []).append(float((pred == y[held_out]).mean()))
                scores.setdefault(f"{name}_balanced", []).append(
                    float(balanced_accuracy_score(y[held_out], pred)))
    return scores


def main(argv=None) -> dict:
    args = parse_args(argv)
    common.set_threads(args.threads)
    figures = common.Figures("head_vs_probe")
    common.print_header("feature extraction's head vs scikit-learn's linear probe", figures)
    from pathlib import Path

    base = Path(args.workdir)
    base.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        x, y = features_of(make_dataset(name, base), args.backbone)
        started = time.perf_counter()
        scores = compare(x, y, args.folds, args.repeats)
        figures.info(f"{name}: {len(y)} images, {args.repeats} x {args.folds}-fold, "
                     f"{time.perf_counter() - started:.1f} s")
        for key, values in scores.items():
            figures.add(f"{name}_{key}", float(np.mean(values)), f"{name} {key} (mean)")
        for weights in ("auto", "none"):
            diff = np.array(scores[f"head_{weights}_acc"]) - np.array(scores["sklearn_acc"])
            stderr = float(diff.std(ddof=1) / np.sqrt(len(diff)))
            figures.add(f"{name}_head_{weights}_minus_sklearn", float(diff.mean()),
                        f"{name} head ({weights}) - sklearn, accuracy points/100",
                        target=(">=", -0.005), note=f"standard error {stderr:.4f}")
    return figures.finish()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
