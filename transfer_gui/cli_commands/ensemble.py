"""`transfer-gui ensemble`: average the probabilities of the best 2-3 backbones' probes."""

from __future__ import annotations

import argparse
import json

from ..core.cli_progress import TextProgress
from ..core.jobs import CancelToken
from .common import EXIT_OK, cancel_on_ctrl_c, feature_cache, positive_int
from .rank import BackboneNames
from .train import add_option_flag

ENSEMBLE_SUMMARY = ("build an ensemble of backbones' linear probes (greedy selection on "
                    "out-of-fold log-loss), kept only where it beats the best single model")


def add_ensemble_options(e: argparse.ArgumentParser) -> None:
    """Adds the options of `ensemble` to its subparser `e` (its defaults import torch)."""
    from ..core.crossval import DEFAULT_FOLDS, DEFAULT_SEED
    from ..core.ensemble.build import DEFAULT_MAX_MEMBERS
    from ..core.training.config import TrainConfig
    from ..core.training.options import OPTION_BY_NAME

    e.add_argument("data", help="dataset folder: one subfolder per class, optionally inside "
                   "train/ val/ test/ (split as `train` splits it)")
    e.add_argument("--out", required=True, help="run folder to create (evaluate, predict and "
                   "export read it like a training run's)")
    e.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    e.add_argument("--backbones", nargs="+", metavar="NAME", action=BackboneNames,
                   help="candidate backbones (default: every backbone whose weights are on "
                        "this computer; named ones are downloaded unless --offline)")
    e.add_argument("--max-members", type=positive_int, default=DEFAULT_MAX_MEMBERS,
                   metavar="N", help="the most backbones averaged, 2 to 5 (default: %(default)s)")
    e.add_argument("--folds", type=int, default=DEFAULT_FOLDS,
                   help="folds of the out-of-fold probabilities on the training images "
                        "(default: %(default)s)")
    e.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help="seed of the fold assignment and the probes (default: %(default)s)")
    declared = OPTION_BY_NAME  # as in `train`, `cv` and `rank` (core/training/options.py)
    add_option_flag(e, declared["class_weights"], default=TrainConfig.class_weights,
                    help=declared["class_weights"].help + " (default: %(default)s)")
    add_option_flag(e, declared["leave_out_empty_classes"], default=False)
    add_option_flag(e, declared["feature_cache_dir"], dest="cache_dir")
    e.add_argument("--keep-ensemble", action="store_true",
                   help="write the ensemble (at least 2 members) even where it does not beat "
                        "the best single model, for comparison")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.add_argument("--offline", action="store_true", help="never download weights")


def cmd_ensemble(args: argparse.Namespace) -> int:
    """Builds the ensemble, writes the run folder and prints each candidate and the decision."""
    from ..core.ensemble.build import build_ensemble

    cancel = CancelToken()
    cancel_on_ctrl_c(cancel)
    bar = TextProgress()
    report = build_ensemble(args.data, args.out, args.backbones, max_members=args.max_members,
                            folds=args.folds, seed=args.seed, class_weights=args.class_weights,
                            leave_out_empty_classes=args.leave_out_empty_classes,
                            keep_ensemble=args.keep_ensemble, overwrite=args.overwrite,
                            cache=feature_cache(args), allow_download=not args.offline,
                            progress=bar, cancel=cancel)
    bar.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"Candidates on {report.num_train} training images ({report.folds}-fold out-of-fold) "
          f"and {report.num_val} validation images:")
    header = ("backbone", "OOF log-loss", "CV accuracy", "val accuracy", "features s")
    rows = []
    for c in report.candidates:
        mean, sd = c.cv()
        rows.append((c.backbone, f"{c.oof_log_loss:.4f}", f"{mean:.1%} \u00b1 {sd:.1%}",
                     f"{c.val_accuracy:.1%}",
                     f"{c.feature_seconds:.1f}" + ("" if c.computed_images else " (cached)")))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    path = " -> ".join(f"{'+'.join(s.members)} ({s.log_loss:.4f})"
                       for s in report.selection.steps)
    print(f"Greedy selection on out-of-fold log-loss: {path}")
    print(report.summary())
    if report.unavailable:
        print(f"Not tried, their weights are not on this computer: "
              f"{', '.join(report.unavailable)}.")
    print(f"Run folder: {report.run_dir} ({report.seconds['total']:.1f} s)")
    return EXIT_OK
