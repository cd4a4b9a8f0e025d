"""`transfer-gui train --auto [--budget-min N]`: search the settings within a time budget, print
each trial as a row, then train the chosen settings (config.json keeps them with the table).

Options the user gives are kept, not searched. Torch-free at import (`train --help` reads the
flags here); the search imports core/auto when it runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from .common import positive_int

DEFAULT_BUDGET_MIN = 10.0


def positive_minutes(text: str) -> float:
    """An argparse type: a number of minutes above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not allowed: give a number of minutes "
                                         f"above 0")
    return value


def add_auto_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("automatic settings")
    g.add_argument("--auto", action="store_true",
                   help="find good settings first, within --budget-min: fine-tuning and from "
                        "scratch try settings in short training runs, feature extraction "
                        "chooses the regularisation by cross-validation; options you give are "
                        "kept, not searched")
    g.add_argument("--budget-min", type=positive_minutes, default=DEFAULT_BUDGET_MIN,
                   metavar="N", help="minutes the search may take (default: %(default)g); "
                                     "training the chosen settings comes after it")
    g.add_argument("--study", metavar="FILE",
                   help="keep the search in this SQLite file: searching again with it goes on "
                        "where it stopped")
    g.add_argument("--max-trials", type=positive_int, metavar="N",
                   help="try at most N settings (default: as many as the budget allows)")


def given_options(args: argparse.Namespace) -> list[str]:
    """The options the user set on the command line (they stay fixed)."""
    from ..core.training.options import OPTIONS

    return [o.name for o in OPTIONS if getattr(args, o.name, None) is not None]


def search_settings(args: argparse.Namespace, config, scan, cancel, progress):
    """Runs the search, printing the table as trials end; returns the AutoSettings."""
    from ..core.auto import find_settings
    from ..core.training.config import FEATURE_EXTRACTION, MODE_NAMES

    fixed = given_options(args)
    if config.mode == FEATURE_EXTRACTION:
        print(f"Choosing the regularisation of the linear probe on {config.backbone}'s features "
              f"by cross-validation, then training with it.")
    else:
        print(f"Finding settings for {MODE_NAMES[config.mode].lower()} with {config.backbone}: "
              f"up to {_minutes(args.budget_min * 60)} of search, then the chosen settings "
              f"train.")
    if fixed:
        print("Kept as given: " + ", ".join(f"{n} {getattr(config, n)}" for n in fixed))
    table = _Table(config.mode, fixed, progress)
    found = find_settings(scan, config, args.budget_min * 60, storage=args.study, fixed=fixed,
                          on_trial=table.row, cancel=cancel, progress=progress,
                          allow_download=not args.offline, max_trials=args.max_trials)
    progress.close()
    if found.l2_accuracy:
        for l2, accuracy in found.l2_accuracy.items():
            print(f"  L2 {l2:<8g} mean fold accuracy {accuracy:.1%}")
    print(f"Search ended after {_minutes(found.seconds)}: {found.stop_reason}.")
    _print_choice(found)
    return found


def _print_choice(found) -> None:
    from ..core.training.options import OPTION_BY_NAME

    if not found.chosen:
        if found.searched:
            print("No setting was chosen (no trial finished): training with the mode's defaults.")
        return
    flags = [f"{OPTION_BY_NAME[n].flag} {_number(v)}" for n, v in found.chosen.items()
             if v is not None]
    which = (f"trial {found.best_trial + 1}" if found.best_trial is not None
             else "cross-validation")
    best = next((t for t in found.trials if t.number == found.best_trial), None)
    score = f", val accuracy {best.val_acc:.1%}" if best is not None else ""
    print(f"Chosen ({which}{score}): {' '.join(flags)}"
          + (" (all stages unfrozen)" if found.chosen.get("unfreeze_stages", 0) is None else ""))
    print("To change any of these, give its flag: options you give are kept, not searched.")
    if found.final_seconds:
        print(f"Training the chosen settings (about {_minutes(found.final_seconds)} and the "
              f"evaluation)...")


class _Table:
    """Prints the search table, one row per trial as it ends."""

    def __init__(self, mode: str, fixed: list[str], progress) -> None:
        from ..core.auto import SEARCHED
        from ..core.training.options import OPTION_BY_NAME

        self.names = [n for n in SEARCHED.get(mode, ()) if n not in fixed]
        self.headers = [OPTION_BY_NAME[n].flag.lstrip("-") for n in self.names]
        self.progress = progress
        self.started = False

    def row(self, record) -> None:
        from ..core.auto import describe

        self.progress.close()
        cells = [describe(n, record.settings.get(n)) for n in self.names]
        widths = [max(len(h), 8) for h in self.headers]
        if not self.started:
            print("trial  " + "  ".join(h.ljust(w) for h, w in zip(self.headers, widths))
                  + "  val acc  epoch  seconds  state")
            self.started = True
        acc = f"{record.val_acc:.1%}" if record.val_acc is not None else "-"
        epoch = str(record.best_epoch) if record.best_epoch is not None else "-"
        state = record.state + (" (earlier search)" if record.resumed else "")
        print(f"{record.number + 1:>5}  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths))
              + f"  {acc:>7}  {epoch:>5}  {record.seconds:>7.0f}  {state}", flush=True)


def _number(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
