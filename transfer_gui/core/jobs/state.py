"""What a job function sees of the world: the `JobState` protocol, and a recording one for tests.

A job is a module-level function `job(state, *inputs)` that touches only `state` (Orange3's
TaskState idea): it polls `state.cancel`, reports through `state.progress(Progress)` and sends
intermediate results as typed events (`state.emit(event)`, see `events.py`). The GUI's worker
state (`transfer_gui.ui.workers.JobState`) turns those calls into Qt signals; `RecordingState`
keeps them in lists, for tests and for callers that just want the result.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from transfer_gui.core.jobs import CancelToken, Progress


@runtime_checkable
class JobState(Protocol):
    """The job's side of a running job: a cancel token and two ways to report."""

    cancel: CancelToken

    def progress(self, progress: Progress) -> None:
        """Report how far the job is (any thread; may be dropped when it repeats)."""

    def emit(self, event: Any) -> None:
        """Send an intermediate result, one of the frozen dataclasses of `events.py`."""


class RecordingState:
    """A `JobState` that keeps every report: `progresses` and `events`, in order.

    Args:
        cancel_after_events: Cancel the job once this many events were emitted (None: never),
            to test that a job stops where it says it does.
    """

    def __init__(self, cancel_after_events: int | None = None) -> None:
        self.cancel = CancelToken()
        self.progresses: list[Progress] = []
        self.events: list[Any] = []
        self._cancel_after = cancel_after_events

    def progress(self, progress: Progress) -> None:
        self.progresses.append(progress)

    def emit(self, event: Any) -> None:
        self.events.append(event)
        if self._cancel_after is not None and len(self.events) >= self._cancel_after:
            self.cancel.cancel()

    def of_type(self, kind: type) -> list[Any]:
        """The events of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]
