"""`transfer-gui rank`: which backbone suits a dataset, from cached features, in minutes."""

from __future__ import annotations

import argparse
import json

from ..core.cli_progress import TextProgress
from ..core.jobs import CancelToken
from .common import EXIT_INTERRUPTED, EXIT_OK, cancel_on_ctrl_c, feature_cache, positive_int
from .train import add_option_flag

RANK_SUMMARY = ("rank backbones for a dataset: linear-probe cross-validation, k-NN and LogME on "
                "cached features, and a recommendation")


class BackboneNames(argparse.Action):
    """`--backbones NAME [NAME ...]`, each checked against the registry when given (as
    `--backbone`: the registry imports torch, so `--help` does not ask it)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from ..core.models import backbone_names

        names = backbone_names()
        wrong = [v for v in values if v not in names]
        if wrong:
            raise argparse.ArgumentError(
                self, f"invalid choice: {wrong[0]!r} (choose from {', '.join(names)})")
        setattr(namespace, self.dest, list(values))


def add_rank_options(r: argparse.ArgumentParser) -> None:
    """Adds the options of `rank` to its subparser `r` (its defaults import torch)."""
    from ..core.crossval import DEFAULT_FOLDS, DEFAULT_SEED
    from ..core.training.config import TrainConfig
    from ..core.training.options import OPTION_BY_NAME
    from ..core.transferability import DEFAULT_NEIGHBOURS

    r.add_argument("data", help="dataset folder (every labelled image is used, splits pooled)")
    r.add_argument("--backbones", nargs="+", metavar="NAME", action=BackboneNames,
                   help="backbones to rank (default: every backbone whose weights are on this "
                        "computer; named ones are downloaded unless --offline)")
    r.add_argument("--folds", type=int, default=DEFAULT_FOLDS,
                   help="stratified folds of the linear probe's cross-validation "
                        "(default: %(default)s)")
    r.add_argument("--neighbours", type=positive_int, default=DEFAULT_NEIGHBOURS, metavar="K",
                   help="neighbours of the leave-one-out k-NN vote (default: %(default)s)")
    r.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help="seed of the fold assignment (default: %(default)s)")
    declared = OPTION_BY_NAME  # as in `train` and `cv` (core/training/options.py)
    add_option_flag(r, declared["class_weights"], default=TrainConfig.class_weights,
                    help=declared["class_weights"].help + " (default: %(default)s)")
    add_option_flag(r, declared["leave_out_empty_classes"], default=False)
    add_option_flag(r, declared["feature_cache_dir"], dest="cache_dir")
    r.add_argument("--no-estimate", dest="estimate", action="store_false",
                   help="do not time fine-tuning of the recommended backbone (a few seconds)")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.add_argument("--offline", action="store_true", help="never download weights")


def cmd_rank(args: argparse.Namespace) -> int:
    """Ranks the backbones and prints a table, best first, then the recommendation."""
    from ..core.rank import rank_backbones

    cancel = CancelToken()
    cancel_on_ctrl_c(cancel)
    bar = TextProgress()
    result = rank_backbones(args.data, args.backbones, folds=args.folds, seed=args.seed,
                            neighbours=args.neighbours, class_weights=args.class_weights,
                            leave_out_empty_classes=args.leave_out_empty_classes,
                            estimate=args.estimate, cache=feature_cache(args),
                            allow_download=not args.offline, progress=bar, cancel=cancel)
    bar.close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return EXIT_OK if not cancel.cancelled else EXIT_INTERRUPTED
    print(f"Backbones ranked on {result.num_images} images of {len(result.class_names)} classes "
          f"({result.folds}-fold cross-validation of the linear probe, seed {result.seed}; "
          f"{result.neighbours}-NN leave-one-out):")
    header = ("backbone", "CV accuracy", f"{result.neighbours}-NN", "LogME", "features s",
              "scores s")
    rows = [(r.backbone, f"{r.cv_accuracy:.1%} \u00b1 {r.cv_std:.1%}", f"{r.knn_accuracy:.1%}",
             f"{r.logme:.3f}",
             f"{r.feature_seconds:.1f}" + ("" if r.computed_images else " (cached)"),
             f"{r.score_seconds:.1f}") for r in result.ranked]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if result.unavailable:
        print(f"Not ranked, their weights are not on this computer: "
              f"{', '.join(result.unavailable)}. Download one on the Model page or with "
              f"`transfer-gui backbones --download NAME`, or name it with --backbones.")
    if result.skipped:
        print(f"Skipped {len(result.skipped)} unreadable file(s). First: "
              f"{result.skipped[0]['path']}: {result.skipped[0]['reason']}")
    print(result.recommendation())
    print(f"{result.seconds:.1f} s")
    return EXIT_OK
