"""What every command shares: the exit codes and stopping with Ctrl-C."""

from __future__ import annotations

import signal
import sys

from ..core.jobs import CancelToken

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def cancel_on_ctrl_c(cancel: CancelToken) -> None:
    """Makes the first Ctrl-C ask the job to stop (keeping its best model); a second one aborts.

    Args:
        cancel: The token the running job checks.
    """
    def handler(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        print("\nStopping after this batch (Ctrl-C again to abort)...", file=sys.stderr)
        cancel.cancel()

    signal.signal(signal.SIGINT, handler)
