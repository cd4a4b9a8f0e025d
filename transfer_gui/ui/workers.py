"""Run core jobs off the GUI thread: a QObject worker moved to a QThread, with typed signals.

A *job* is a plain function `job(state, *args)` that touches only `state` (Orange3's TaskState
idea, transfer_gui/core/jobs/state.py): it reports through `state.progress(...)` and
`state.emit(event)` (a typed event, core/jobs/events.py), and honours `state.cancel`. `TaskRunner` lives in the GUI thread; its signals are relayed from the worker by
queued connections to its own slots, so whatever connects to the runner runs in the GUI thread.
Starting a new job cancels the old one and drops its late results. Errors always arrive as
`failed(message, details)`.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Callable, Mapping, Optional

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from transfer_gui.core.errors import Cancelled, UserError
from transfer_gui.core.jobs import CancelToken, Progress

log = logging.getLogger(__name__)


class JobState:
    """What a job sees (the core's `JobState` protocol): a cancel token and thread-safe ways to
    report, which emit Qt signals."""

    def __init__(self, worker: "Worker") -> None:
        self._worker = worker
        self.cancel = CancelToken()
        self._last_progress: Optional[Progress] = None
        self._last_time = 0.0

    def progress(self, progress: Progress) -> None:
        """Report progress; repeats and bursts (< 50 ms apart, same message) are dropped."""
        now = time.monotonic()
        last = self._last_progress
        if last is not None and progress.message == last.message and now - self._last_time < 0.05:
            return
        self._last_progress, self._last_time = progress, now
        self._worker.progress.emit(progress)

    def emit(self, event: Any) -> None:
        """Send an intermediate result: a typed event (an epoch's metrics, a batch loss, a
        thumbnail; core/jobs/events.py)."""
        self._worker.event.emit(event)


class Worker(QObject):
    """Runs one job in its thread. Not used directly: TaskRunner makes and owns workers."""

    progress = Signal(object)  # transfer_gui.core.jobs.Progress
    event = Signal(object)  # a dataclass of transfer_gui.core.jobs.events
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal(object)
    done = Signal()

    def __init__(self, job: Callable[..., Any], args: tuple) -> None:
        super().__init__()
        self.job, self.args = job, args
        self.state = JobState(self)

    @Slot()
    def run(self) -> None:
        try:
            result = self.job(self.state, *self.args)
        except Cancelled:
            self.cancelled.emit(None)
        except UserError as exc:
            self.failed.emit(str(exc), "")
        except Exception as exc:  # every error reaches the user, never a silent thread death
            log.exception("job %s failed", getattr(self.job, "__name__", self.job))
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            if self.state.cancel.cancelled:
                self.cancelled.emit(result)
            else:
                self.finished.emit(result)
        finally:
            self.done.emit()


class TaskRunner(QObject):
    """Runs one job at a time in a background QThread and relays its signals to the GUI thread."""

    started = Signal()
    progress = Signal(object)
    event = Signal(object)  # a dataclass of transfer_gui.core.jobs.events
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal(object)
    stopped = Signal()  # after any of finished / failed / cancelled

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._thread: Optional[QThread] = None
        self._worker: Optional[Worker] = None
        self._retired: list[tuple[QThread, Worker]] = []

    def is_running(self) -> bool:
        return self._worker is not None

    def start(self, job: Callable[..., Any], *args: Any) -> None:
        """Start `job(state, *args)`; a job still running is cancelled and its results dropped."""
        self.cancel()
        self._detach()
        thread = QThread()
        thread.setObjectName(f"job-{getattr(job, '__name__', 'job')}")
        worker = Worker(job, args)
        worker.moveToThread(thread)
        worker.progress.connect(self._on_progress)
        worker.event.connect(self._on_event)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        # Direct: quit() is thread-safe, and a queued call would wait for the GUI thread, which
        # may itself be blocked in shutdown()'s wait().
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        thread.started.connect(worker.run)
        thread.finished.connect(self._reap)
        self._thread, self._worker = thread, worker
        thread.start()
        self.started.emit()

    def cancel(self) -> None:
        """Ask the running job to stop (it stops at its next check, within one batch)."""
        if self._worker is not None:
            self._worker.state.cancel.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel and wait for every thread to end (call on close); False if one would not stop."""
        self.cancel()
        ok = True
        for thread, _ in [*self._retired, *([(self._thread, self._worker)] if self._thread else [])]:
            ok = thread.wait(timeout_ms) and ok
        return ok

    def _current(self) -> bool:
        return self.sender() is self._worker

    def _detach(self) -> None:
        """Forget the current worker (its thread is kept alive until it ends by itself)."""
        if self._worker is not None:
            for signal in (self._worker.progress, self._worker.event, self._worker.finished,
                           self._worker.failed, self._worker.cancelled):
                signal.disconnect()
            self._retired.append((self._thread, self._worker))
        self._thread, self._worker = None, None

    @Slot()
    def _reap(self) -> None:
        thread = self.sender()
        for pair in list(self._retired):
            if pair[0] is thread:
                self._retired.remove(pair)
                pair[1].deleteLater()
                thread.deleteLater()

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        if self._current():
            self.progress.emit(progress)

    @Slot(object)
    def _on_event(self, event: Any) -> None:
        if self._current():
            self.event.emit(event)

    def _end(self, signal, *args: Any) -> None:
        if self._current():
            self._detach()
            signal.emit(*args)
            self.stopped.emit()

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        self._end(self.finished, result)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._end(self.failed, message, details)

    @Slot(object)
    def _on_cancelled(self, result: Any) -> None:
        self._end(self.cancelled, result)


RUNNER_SIGNALS = ("started", "progress", "event", "finished", "failed", "cancelled", "stopped")


class JobHost:
    """Mixin for a QObject that runs jobs: `make_runner` makes a `TaskRunner` owned by the host
    and wires its signals from one declarative mapping, instead of a connect() per signal.

    Example:
        self.runner = self.make_runner(progress=self._on_progress, finished=self._on_done,
                                       events={EpochEnded: self._on_epoch})
    """

    def make_runner(self, *, events: Optional[Mapping[type, Callable[[Any], Any]]] = None,
                    **handlers: Callable[..., Any]) -> TaskRunner:
        """A runner whose signals call `handlers` (keyword = signal name: started, progress,
        event, finished, failed, cancelled, stopped; handlers take that signal's arguments).

        `events` maps event types (core/jobs/events.py) to handlers taking the event: each event
        goes to the handler of its type (or of a base class); others are ignored.
        """
        unknown = set(handlers) - set(RUNNER_SIGNALS)
        if unknown:
            raise ValueError(f"unknown runner signal(s) {sorted(unknown)}; "
                             f"choose from {', '.join(RUNNER_SIGNALS)}")
        runner = TaskRunner(self)  # type: ignore[arg-type]  (the host is a QObject)
        for name, handler in handlers.items():
            getattr(runner, name).connect(handler)
        if events:
            routes = dict(events)

            def dispatch(event: Any) -> None:
                for kind in type(event).__mro__:
                    if kind in routes:
                        routes[kind](event)
                        return

            runner.event.connect(dispatch)
        return runner
