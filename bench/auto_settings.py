"""Automatic settings (`train --auto`, core/auto) against the defaults, with time.

Per dataset, Lite0, on the same split:
- fine-tuning with the mode's defaults: best val accuracy, test accuracy, seconds;
- fine-tuning with `find_settings` (budget --budget-min, the search alone) and then the chosen
  settings trained: the same figures, the search's seconds and its trials (complete / pruned /
  out of time);
- feature extraction: the probe strength the search reports against the run's own choice.

Datasets: hymenoptera with its val folder split in two (alternate files, sorted) into val and
test, so the search's choice (made on val) is scored on images it never saw; and the generated
`shapes` set (its own test folder, val carved from train by the scan).

    python bench/auto_settings.py --workdir /tmp/bench_auto [--budget-min 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

try:
    from . import _common as common
    from .accuracy import make_dataset
except ImportError:  # run as a script: bench/ is on sys.path
    import _common as common
    from accuracy import make_dataset


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", choices=("hymenoptera", "shapes"),
                   default=["hymenoptera", "shapes"])
    p.add_argument("--budget-min", type=float, default=5.0)
    p.add_argument("--workdir", default="/tmp/bench_auto")
    p.add_argument("--backbone", default=common.DEFAULT_BACKBONE)
    p.add_argument("--skip-defaults", action="store_true", help="only the search")
    p.add_argument("--shapes-per-class", type=int, default=60,
                   help="training images per class of the generated set (test: half, >= 10)")
    p.add_argument("--modes", nargs="+", choices=("feature_extraction", "fine_tuning"),
                   default=["feature_extraction", "fine_tuning"])
    return p.parse_args(argv)


def shapes(base: Path, per_class: int) -> str:
    """The generated shapes set (tests/synthetic.py) with `per_class` training images a class."""
    if per_class == 60:
        return make_dataset("shapes", base)
    from synthetic import make_shapes_dataset

    root = base / f"shapes_{per_class}"
    if not root.exists():
        make_shapes_dataset(root, train_per_class=per_class, test_per_class=max(10, per_class // 2))
    return str(root)


def hymenoptera_with_test(base: Path) -> str:
    """hymenoptera as links: train as it is, val's files alternately into val and test."""
    source = Path(common.DEFAULT_DATA)
    root = base / "hymenoptera_val_test"
    if root.exists():
        return str(root)
    for cls in sorted(p.name for p in (source / "train").iterdir() if p.is_dir()):
        (root / "train").mkdir(parents=True, exist_ok=True)
        (root / "train" / cls).symlink_to(source / "train" / cls)
        files = sorted((source / "val" / cls).iterdir())
        for i, f in enumerate(files):
            folder = root / ("val" if i % 2 == 0 else "test") / cls
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f.name).symlink_to(f)
    return str(root)


def scores(result) -> dict:
    splits = (result.evaluation or {}).get("splits", {})
    return {"val": (result.best or {}).get("val_acc"),
            "test": splits.get("test", {}).get("accuracy"),
            "best_epoch": (result.best or {}).get("epoch"), "seconds": round(result.seconds, 1),
            "kept": result.kept}


def main(argv=None) -> dict:
    args = parse_args(argv)
    from transfer_gui.core.auto import find_settings
    from transfer_gui.core.data import scan_dataset
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    figures = common.Figures("auto_settings")
    common.print_header("Automatic settings vs defaults", figures)
    for name in args.datasets:
        data = (hymenoptera_with_test(work) if name == "hymenoptera"
                else shapes(work, args.shapes_per_class))
        cache = FeatureCache()
        stamp = time.strftime("%H%M%S")
        for mode in args.modes:
            config = TrainConfig.for_mode(data, mode, backbone=args.backbone)
            scan = scan_dataset(data, val_fraction=config.val_fraction,
                                test_fraction=config.test_fraction, seed=config.split_seed)
            key = f"{name}.{mode}"
            if not args.skip_defaults:
                result = train_run(config, work / f"{name}-{mode}-defaults-{stamp}",
                                   feature_cache=cache, dataset=scan, allow_download=False)
                figures.add(f"{key}.defaults", scores(result), f"{key} defaults")
            found = find_settings(
                scan, config, args.budget_min * 60, feature_cache=cache, allow_download=False,
                on_trial=lambda t: figures.info(
                    f"  trial {t.number} {t.state}: {t.settings} val {t.val_acc} "
                    f"(epoch {t.best_epoch}) {t.seconds:.0f} s {t.note}"))
            figures.add(f"{key}.search", {
                "seconds": round(found.seconds, 1), "stop": found.stop_reason,
                "trials": len(found.trials),
                "states": [t.state for t in found.trials], "chosen": found.chosen,
                "epochs_range": found.epochs_range}, f"{key} search")
            result = train_run(found.config, work / f"{name}-{mode}-auto-{stamp}",
                               feature_cache=cache, dataset=scan, allow_download=False)
            figures.add(f"{key}.auto", {**scores(result), "probe_l2": (result.probe or {}).get(
                "l2")}, f"{key} auto (chosen settings trained)")
    return figures.finish()


if __name__ == "__main__":
    main()
