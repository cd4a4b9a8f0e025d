"""`transfer-gui cv`: an honest accuracy by stratified k-fold cross-validation on cached features."""

from __future__ import annotations

import argparse
import json

from ..core.cli_progress import TextProgress
from ..core.jobs import CancelToken
from .common import (EXIT_INTERRUPTED, EXIT_OK, BackboneName, cancel_on_ctrl_c,
                     feature_cache)
from .train import add_option_flag


CV_SUMMARY = ("cross-validate feature extraction: accuracy and macro-F1 per fold, with mean and "
              "spread (seconds once features are cached)")


def add_cv_options(c: argparse.ArgumentParser) -> None:
    """Adds the options of `cv` to its subparser `c` (its defaults import torch)."""
    from ..core.crossval import DEFAULT_FOLDS, DEFAULT_SEED
    from ..core.models import DEFAULT_BACKBONE
    from ..core.training.config import TrainConfig
    from ..core.training.options import OPTION_BY_NAME

    c.add_argument("data", help="dataset folder (every labelled image is used, splits pooled)")
    c.add_argument("--folds", type=int, default=DEFAULT_FOLDS,
                   help="number of stratified folds (default: %(default)s)")
    c.add_argument("--backbone", default=DEFAULT_BACKBONE, action=BackboneName,
                   metavar="NAME", help=BackboneName.HELP)
    c.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help="seed of the fold assignment (default: %(default)s)")
    declared = OPTION_BY_NAME  # as in `train` (core/training/options.py)
    add_option_flag(c, declared["class_weights"], default=TrainConfig.class_weights,
                    help=declared["class_weights"].help + " (default: %(default)s)")
    add_option_flag(c, declared["leave_out_empty_classes"], default=False)
    add_option_flag(c, declared["feature_cache_dir"], dest="cache_dir")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.add_argument("--offline", action="store_true", help="never download weights")


def cmd_cv(args: argparse.Namespace) -> int:
    """Runs the cross-validation and prints each fold, then mean ± standard deviation."""
    from ..core.crossval import cross_validate

    cancel = CancelToken()
    cancel_on_ctrl_c(cancel)
    bar = TextProgress()
    result = cross_validate(args.data, args.backbone, folds=args.folds, seed=args.seed,
                            class_weights=args.class_weights,
                            leave_out_empty_classes=args.leave_out_empty_classes,
                            cache=feature_cache(args),
                            allow_download=not args.offline, progress=bar, cancel=cancel)
    bar.close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return EXIT_OK if not cancel.cancelled else EXIT_INTERRUPTED
    print(f"{result.folds}-fold cross-validation of feature extraction ({result.backbone}), "
          f"seed {result.seed}, {result.num_images} images:")
    for f in result.fold_scores:
        print(f"  fold {f.fold}: accuracy {f.accuracy:.1%}, balanced accuracy "
              f"{f.balanced_accuracy:.1%}, macro-F1 {f.macro_f1:.3f} ({f.num_images} images)")
    print(f"Mean \u00b1 standard deviation: {result.summary()}")
    if result.skipped:
        print(f"Skipped {len(result.skipped)} unreadable file(s). First: "
              f"{result.skipped[0]['path']}: {result.skipped[0]['reason']}")
    print(f"{result.seconds:.1f} s")
    return EXIT_OK
