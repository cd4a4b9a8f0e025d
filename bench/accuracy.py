"""Accuracy per method and dataset: feature extraction, fine-tuning (random head), LP-FT (the
default fine-tuning), a reference linear probe, and from scratch.

Each training method runs in its own child process (`python bench/accuracy.py --one ...`), so
its peak resident memory (ru_maxrss) is its own. Per dataset and method it prints: best val
accuracy (the checkpointed epoch), test accuracy and balanced accuracy when the dataset has a
test split, seconds and peak RSS. The reference probe is scikit-learn's LogisticRegression
(L-BFGS, multinomial) with C chosen by 5-fold CV on the training images (LogisticRegressionCV)
on the same cached features.

Datasets: hymenoptera (real photos, train/val), `shapes` (generated: coloured shapes on textured
noise, the class is the colour, 3 x 60 train + 3 x 30 test: the backbone must adapt), and
`imbalanced` (the same family with 60/20/8 training images). Targets: fine-tuning (LP-FT) >=
feature extraction on every dataset (test, else val), LP-FT >= 0.98 test on shapes, FE within
0.5 point of the reference probe.

    python bench/accuracy.py                            # everything (about 30 min on 2 cores)
    python bench/accuracy.py --datasets shapes --methods fe lpft probe
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

try:
    from . import _common as common
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common

sys.path.insert(0, str(common.REPO_ROOT / "tests"))  # the generated-dataset makers live there

METHODS = {  # method -> (mode, config overrides)
    "fe": ("feature_extraction", {}),
    "fe_auto_weights": ("feature_extraction", {"class_weights": "auto"}),
    "fe_no_weights": ("feature_extraction", {"class_weights": "none"}),
    "ft": ("fine_tuning", {"probe_start": False}),
    "lpft": ("fine_tuning", {}),
    "lpft_reestimate": ("fine_tuning", {"batch_norm": "reestimate"}),
    "lpft_l2sp": ("fine_tuning", {"stay_close": 0.01}),
    "scratch": ("from_scratch", {}),
}
DEFAULT_METHODS = ("fe", "probe", "ft", "lpft", "scratch")
DATASETS = ("hymenoptera", "shapes", "imbalanced")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    p.add_argument("--methods", nargs="+", choices=[*METHODS, "probe"], default=list(DEFAULT_METHODS))
    p.add_argument("--backbone", default=common.DEFAULT_BACKBONE)
    p.add_argument("--scratch-epochs", type=int, default=10,
                   help="epochs of the from-scratch runs (default: %(default)s; reported only)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--workdir", default=None, help="keep datasets and runs here")
    p.add_argument("--one", nargs=3, metavar=("DATA", "METHOD", "OUT"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def make_dataset(name: str, base: Path) -> str:
    from synthetic import make_shapes_dataset

    if name == "hymenoptera":
        return common.DEFAULT_DATA
    root = base / name
    if not root.exists():
        counts = {"red": 60, "green": 20, "blue": 8} if name == "imbalanced" else None
        make_shapes_dataset(root, counts=counts, seed=1 if counts else 0)
    return str(root)


def run_one(data: str, method: str, out: str, args) -> None:
    """Child process: train one method and write its figures to OUT/figures.json."""
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    mode, overrides = METHODS[method]
    if mode == "from_scratch":
        overrides = {**overrides, "epochs": args.scratch_epochs}
    config = TrainConfig.for_mode(data, mode, backbone=args.backbone, **overrides)
    started = time.perf_counter()
    result = train_run(config, Path(out) / "run", allow_download=False)
    splits = (result.evaluation or {}).get("splits", {})
    figures = {"best_val_acc": (result.best or {}).get("val_acc"),
               "best_epoch": (result.best or {}).get("epoch"),
               "epochs": [h["epoch"] for h in result.history][-1:],
               "val_curve": [round(h["val_acc"], 3) for h in result.history],
               "kept": result.kept, "seconds": time.perf_counter() - started,
               "probe_l2": (result.probe or {}).get("l2")}
    for split in ("val", "test"):
        if split in splits:
            figures[f"{split}_acc"] = splits[split]["accuracy"]
            figures[f"{split}_balanced"] = splits[split]["balanced_accuracy"]
    Path(out, "figures.json").write_text(json.dumps(figures))


def reference_probe_model():
    """The reference linear probe: scikit-learn's L-BFGS multinomial logistic regression with C
    chosen by 5-fold CV on the rows it is fitted on (also used by head_vs_probe.py)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegressionCV

    return LogisticRegressionCV(Cs=np.logspace(-3, 3, 13), cv=5, max_iter=5000)


def reference_probe(data: str, backbone: str) -> dict:
    """scikit-learn's LogisticRegressionCV on the cached centre features (train -> val/test)."""
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score

    from transfer_gui.core.data import scan_dataset
    from transfer_gui.core.features import dataset_features
    from transfer_gui.core.models import get_backbone

    started = time.perf_counter()
    scan = scan_dataset(data)
    feats = dataset_features(get_backbone(backbone), [s.path for s in scan.samples])
    split_of = np.array([s.split for s in scan.samples])
    y = np.array([s.label for s in scan.samples])
    x = feats.center(range(len(y)))
    train = split_of == "train"
    model = reference_probe_model().fit(x[train], y[train])
    out = {"seconds": time.perf_counter() - started, "C": float(model.C_[0])}
    for split in ("val", "test"):
        rows = split_of == split
        if rows.any():
            pred = model.predict(x[rows])
            out[f"{split}_acc"] = float((pred == y[rows]).mean())
            out[f"{split}_balanced"] = float(balanced_accuracy_score(y[rows], pred))
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    common.set_threads(args.threads)
    if args.one:
        run_one(*args.one, args)
        return {}
    figures = common.Figures("accuracy")
    common.print_header("accuracy per method and dataset", figures)
    table = []
    with tempfile.TemporaryDirectory(prefix="bench_acc_") as tmp:
        base = Path(args.workdir or tmp)
        for name in args.datasets:
            data = make_dataset(name, base)
            for method in args.methods:
                if method == "probe":
                    row = reference_probe(data, args.backbone)
                    row["peak_rss_mb"] = None
                else:
                    out = base / f"{name}_{method}"
                    out.mkdir(parents=True, exist_ok=True)
                    cmd = [sys.executable, __file__, "--one", data, method, str(out),
                           "--backbone", args.backbone, "--scratch-epochs", str(args.scratch_epochs)]
                    child = common.run_measured(cmd, echo_prefix=None)
                    if child.returncode != 0:
                        figures.info(f"{name} {method}: FAILED (exit {child.returncode})")
                        continue
                    row = json.loads((out / "figures.json").read_text())
                    row["peak_rss_mb"] = common.mb(child.ru_maxrss_bytes)
                row.update(dataset=name, method=method)
                table.append(row)
                figures.info(json.dumps(row))
                for key in ("best_val_acc", "test_acc", "test_balanced", "seconds", "peak_rss_mb"):
                    if row.get(key) is not None:
                        figures.add(f"{name}_{method}_{key}", row[key], f"{name} {method} {key}")
    _summary(table, figures)
    return figures.finish()


def _summary(table: list[dict], figures: common.Figures) -> None:
    figures.info("\n  dataset      method            best val   val acc  test acc  test bal  "
                 "seconds  peak MB")
    for r in table:
        def f(key, fmt="{:.3f}"):
            return fmt.format(r[key]) if r.get(key) is not None else "-"
        figures.info(f"  {r['dataset']:<12} {r['method']:<16} {f('best_val_acc'):>9} "
                     f"{f('val_acc'):>9} {f('test_acc'):>9} {f('test_balanced'):>9} "
                     f"{f('seconds', '{:.0f}'):>8} {f('peak_rss_mb', '{:.0f}'):>8}")


if __name__ == "__main__":
    main()
