"""`transfer-gui doctor`: copies and leaks, likely label errors, odd pictures and class balance
of a dataset folder, each with its file paths. Changes nothing on disk."""

from __future__ import annotations

import argparse
import json

from ..core.cli_progress import TextProgress
from ..core.jobs import CancelToken
from .common import (EXIT_INTERRUPTED, EXIT_OK, BackboneName, cancel_on_ctrl_c,
                     feature_cache)
from .train import add_option_flag

DOCTOR_SUMMARY = ("check a dataset: copies and leaks between splits, likely label errors, odd "
                  "pictures, class balance")
_SHOWN = 20  # per section in the text output (--json lists all)


def add_doctor_options(d: argparse.ArgumentParser) -> None:
    """Adds the options of `doctor` to its subparser `d` (its defaults import torch)."""
    from ..core.models import DEFAULT_BACKBONE
    from ..core.training.options import OPTION_BY_NAME

    d.add_argument("data", help="dataset folder: one subfolder per class, optionally inside "
                   "train/ val/ test/")
    d.add_argument("--backbone", default=DEFAULT_BACKBONE, action=BackboneName, metavar="NAME",
                   help=BackboneName.HELP)
    declared = OPTION_BY_NAME  # the split options as in `train` (core/training/options.py)
    for name in ("val_fraction", "test_fraction", "split_seed", "leave_out_empty_classes"):
        add_option_flag(d, declared[name])
    add_option_flag(d, declared["feature_cache_dir"], dest="cache_dir")
    d.add_argument("--json", action="store_true", help="print every finding as JSON")
    d.add_argument("--offline", action="store_true", help="never download weights")


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..core.data import scan_dataset
    from ..core.doctor import examine_dataset
    from ..core.training.config import TrainConfig

    cancel = CancelToken()
    cancel_on_ctrl_c(cancel)
    split = {name: getattr(TrainConfig, name) if getattr(args, name) is None
             else getattr(args, name) for name in ("val_fraction", "test_fraction", "split_seed")}
    scan = scan_dataset(args.data, val_fraction=split["val_fraction"],
                        test_fraction=split["test_fraction"], seed=split["split_seed"],
                        leave_out_empty_classes=bool(args.leave_out_empty_classes), cancel=cancel)
    bar = TextProgress()
    report = examine_dataset(scan, args.backbone,
                             cache=feature_cache(args),
                             allow_download=not args.offline, progress=bar, cancel=cancel)
    bar.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)
    return EXIT_OK if not cancel.cancelled else EXIT_INTERRUPTED


def _print_report(report) -> None:
    print(f"Data doctor: {report.root} ({sum(map(sum, (c.values() for c in report.counts.values())))}"
          f" pictures, {len(report.class_names)} classes, {report.backbone})")
    print(f"Found: {report.summary()}.")
    _section("Copies and leaks", report.copy_groups, lambda g: [
        f"  {g.problem}: {g.describe()}",
        *(f"      {p.split}/{p.class_name}: {p.path}" for p in g.pictures)])
    _section("Likely label errors (a review list: about half are usually real errors)",
             report.label_findings, lambda f: [f"  {f.picture.path}: {f.describe()}"])
    if report.label_check_note:
        print(report.label_check_note)
    _section("Odd pictures", report.odd_pictures,
             lambda o: [f"  {o.picture.path}: {o.describe()}"])
    _section("Class balance and split sizes", report.notes, lambda n: [f"  {n}"])
    _section("Unreadable files (left out of every check)", report.skipped,
             lambda s: [f"  {s[0]}: {s[1]}"])
    print(f"{report.seconds:.1f} s")


def _section(title: str, items: list, lines) -> None:
    if not items:
        return
    print(f"\n{title} ({len(items)}):")
    for item in items[:_SHOWN]:
        for line in lines(item):
            print(line)
    if len(items) > _SHOWN:
        print(f"  ... and {len(items) - _SHOWN} more (--json lists all)")
