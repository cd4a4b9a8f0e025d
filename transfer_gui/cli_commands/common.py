"""What every command shares: the exit codes, the --backbone option and stopping with Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys

from ..core.jobs import CancelToken

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def cancel_on_ctrl_c(cancel: CancelToken) -> None:
    """Makes the first Ctrl-C (or a SIGTERM, e.g. from `kill` or a job scheduler) ask the job to
    stop, keeping its best model; a second one aborts.

    Args:
        cancel: The token the running job checks.
    """
    def handler(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        what = "Ctrl-C again" if signum == signal.SIGINT else "a second signal"
        print(f"\nStopping after this batch ({what} to abort)...", file=sys.stderr)
        cancel.cancel()

    signal.signal(signal.SIGINT, handler)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, handler)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed: give 1 or more")
    return value


class BackboneName(argparse.Action):
    """`--backbone NAME`, checked against the backbone registry only when given.

    The registry imports torch (seconds), so it is not asked while building the parser: `--help`
    stays fast, and a wrong name still fails at parse time with the valid names.
    """

    HELP = "backbone to use (default: %(default)s); `transfer-gui backbones` lists them"

    def __call__(self, parser, namespace, value, option_string=None) -> None:
        from ..core.models import backbone_names

        names = backbone_names()
        if value not in names:
            raise argparse.ArgumentError(
                self, f"invalid choice: {value!r} (choose from {', '.join(names)})")
        setattr(namespace, self.dest, value)


def feature_cache(args: argparse.Namespace):
    """The feature cache a command's `--cache-dir` names (checked first), else the in-memory
    process-wide one."""
    from ..core.features import FeatureCache, default_feature_cache

    return FeatureCache(args.cache_dir) if args.cache_dir else default_feature_cache()
