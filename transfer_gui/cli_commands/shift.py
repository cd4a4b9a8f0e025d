"""`transfer-gui shift`: how far new images are from the training images, and recalibration."""

from __future__ import annotations

import argparse
import json
import sys

from ..core.cli_progress import TextProgress
from ..core.errors import UserError
from ..core.jobs import CancelToken
from .common import EXIT_INTERRUPTED, EXIT_OK, cancel_on_ctrl_c, feature_cache, positive_int
from .prediction_output import printable

SHIFT_SUMMARY = ("compare new images with the training images (kernel MMD test), and optionally "
                 "recalibrate the model to them")


def add_shift_options(s: argparse.ArgumentParser) -> None:
    """Adds the options of `shift` to its subparser `s`."""
    from ..core.shift import MAX_PER_SIDE, PERMUTATIONS
    from ..core.training.options import OPTION_BY_NAME
    from .train import add_option_flag

    s.add_argument("model", metavar="MODEL_OR_RUN",
                   help="a run folder, or the model.pt inside one (its training images are the "
                        "reference)")
    s.add_argument("new_dir", metavar="NEW_DIR", help="folder of new images (no labels needed)")
    s.add_argument("--recalibrate", metavar="OUT",
                   help="also recalibrate the model's batch-norm statistics to NEW_DIR and save "
                        "it as this new file (never inside a run folder; the original stays)")
    s.add_argument("--labelled", metavar="DIR",
                   help="a few labelled new images, one subfolder per class: both models are "
                        "scored on them and the recalibrated one is saved only if it is better")
    s.add_argument("--overwrite", action="store_true",
                   help="replace OUT if it exists (never the original model)")
    s.add_argument("--seed", type=int, default=0,
                   help="seed of the image sampling and permutations (default: %(default)s)")
    s.add_argument("--permutations", type=positive_int, default=PERMUTATIONS, metavar="N",
                   help="permutations of the test (default: %(default)s)")
    s.add_argument("--max-images", type=positive_int, default=MAX_PER_SIDE, metavar="N",
                   help="images compared per side, a random sample of more (default: "
                        "%(default)s)")
    add_option_flag(s, OPTION_BY_NAME["feature_cache_dir"], dest="cache_dir")
    s.add_argument("--json", action="store_true", help="print the result as JSON")


def print_report(report) -> None:
    """The shift report as text on stdout."""
    from ..core.shift import MIN_PER_SIDE, class_p_text, p_text

    t = report.overall
    print(f"Compared {report.compared_new} of {report.new_images} new images with "
          f"{report.compared_reference} of {report.reference_images} training images.")
    print(f"Overall: MMD^2 {t.mmd2:.4f}, {p_text(t.p_value, t.permutations)} ({report.level})")
    print("Per class (new images grouped by the class the model predicts):")
    for c in report.per_class:
        line = f"  {printable(c.name)}: {c.n_new} new, {c.n_reference} training"
        if c.test is None:
            line += f": not tested (fewer than {MIN_PER_SIDE} images on a side)"
        else:
            line += (f": MMD^2 {c.test.mmd2:.4f}, {p_text(c.test.p_value, c.test.permutations)}"
                     f" ({class_p_text(report, c)} adjusted for the classes tested)")
        print(line)
    for path, reason in report.unreadable:
        print(f"  unreadable: {printable(path)}: {printable(reason)}", file=sys.stderr)
    print(report.summary())


def cmd_shift(args: argparse.Namespace) -> int:
    """Compares NEW_DIR with the training images; recalibrates when asked.

    Raises:
        UserError: Bad input (the model, the folders, OUT), named in the message.
    """
    from ..core.recalibrate import check_output, labelled_images, recalibrate_to_folder
    from ..core.shift_compare import compare_new_images, open_model_and_run

    if args.labelled and not args.recalibrate:
        raise UserError("--labelled scores the original and the recalibrated model: give "
                        "--recalibrate OUT too.")
    if args.recalibrate:  # before the work, not after it
        loaded, _ = open_model_and_run(args.model)
        check_output(args.recalibrate, loaded, args.overwrite, "--recalibrate")
        if args.labelled:
            labelled_images(args.labelled, loaded.class_names)
    cancel = CancelToken()
    cancel_on_ctrl_c(cancel)
    cache = feature_cache(args)
    bar = TextProgress()
    report = compare_new_images(args.model, args.new_dir, permutations=args.permutations,
                                seed=args.seed, max_per_side=args.max_images, cache=cache,
                                progress=bar, cancel=cancel)
    bar.close()
    out = {"shift": report.to_dict()}
    if not args.json:
        print_report(report)
    if args.recalibrate:
        result = recalibrate_to_folder(args.model, args.new_dir, args.recalibrate,
                                       labelled=args.labelled, overwrite=args.overwrite,
                                       seed=args.seed, max_images=args.max_images, progress=bar,
                                       cancel=cancel)
        bar.close()
        out["recalibration"] = result.to_dict()
        if not args.json:
            print(result.summary())
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
    return EXIT_OK if not cancel.cancelled else EXIT_INTERRUPTED
