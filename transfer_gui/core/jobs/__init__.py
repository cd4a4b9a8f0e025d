"""What every long core job takes: a cancel token and a progress callback (Orange3's TaskState idea).

A job never knows who listens: the CLI passes a function that draws a text bar, the GUI one that
emits a Qt signal from the worker thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Optional

from transfer_gui.core.errors import Cancelled


class CancelToken:
    """A thread-safe flag a job polls; `raise_if_cancelled` turns it into `Cancelled`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass(frozen=True)
class Progress:
    """One progress report.

    Attributes:
        fraction: Overall completion in [0, 1], or None when unknown.
        message: A short human-readable status line.
        eta_seconds: Estimated seconds left, or None when unknown.
        stage: A machine-readable stage name ("scan", "decode", "features", "train", ...).
        done: Items (images) the stage has finished, when it counts items.
        total: Items the stage will process, when known.
    """

    fraction: Optional[float]
    message: str
    eta_seconds: Optional[float] = None
    stage: str = ""
    done: Optional[int] = None
    total: Optional[int] = None


ProgressCallback = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """A progress callback that ignores every report."""


class StageProgress:
    """Maps one stage's own 0..1 progress into [start, end] of the whole job, adding an ETA
    for the stage from the time it has taken so far."""

    def __init__(self, report: ProgressCallback, start: float, end: float, stage: str) -> None:
        import time

        self._clock = time.perf_counter
        self._t0 = self._clock()
        self.report, self.start, self.end, self.stage = report, start, end, stage

    def __call__(self, progress: Progress) -> None:
        fraction = progress.fraction
        eta = progress.eta_seconds
        if fraction is not None:
            if eta is None and fraction > 0:
                eta = (self._clock() - self._t0) * (1 - fraction) / fraction
            fraction = self.start + (self.end - self.start) * min(max(fraction, 0.0), 1.0)
        self.report(Progress(fraction, progress.message, eta, progress.stage or self.stage,
                             progress.done, progress.total))
