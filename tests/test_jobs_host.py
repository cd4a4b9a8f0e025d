"""The GUI's side of a job: `JobHost.make_runner` wires a TaskRunner from one mapping, events go
to the handler of their type, and the worker's state satisfies the core's JobState protocol."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from PySide6.QtCore import QObject  # noqa: E402

from transfer_gui.core.jobs import Progress  # noqa: E402
from transfer_gui.core.jobs import events  # noqa: E402
from transfer_gui.core.jobs.state import JobState as JobStateProtocol  # noqa: E402
from transfer_gui.ui.workers import JobHost, JobState, Worker  # noqa: E402


def chatty_job(state, n: int) -> int:
    """Reports twice, emits two kinds of event and one the host does not route, returns n."""
    state.progress(Progress(0.5, "half way"))
    state.emit(events.TrainingStopped(n))
    state.emit(events.ExplainFailed("a.png", "unreadable"))
    state.emit(events.FitStarted(1, 1))  # not routed: ignored
    state.progress(Progress(1.0, "done"))
    return n


def endless_job(state) -> None:
    while True:
        state.cancel.raise_if_cancelled()


class Host(QObject, JobHost):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list = []
        self.runner = self.make_runner(
            progress=lambda p: self.calls.append(("progress", p.message)),
            finished=lambda result: self.calls.append(("finished", result)),
            cancelled=lambda result: self.calls.append(("cancelled", result)),
            events={events.TrainingStopped: lambda e: self.calls.append(("stopped", e.epoch)),
                    events.ExplainFailed: lambda e: self.calls.append(("failed", e.path))})


def test_host_routes_signals_and_events_by_type(qtbot):
    host = Host()
    with qtbot.waitSignal(host.runner.stopped, timeout=10_000):
        host.runner.start(chatty_job, 7)
    assert [c for c in host.calls if c[0] != "progress"] == [
        ("stopped", 7), ("failed", "a.png"), ("finished", 7)]
    assert ("progress", "half way") in host.calls
    with qtbot.waitSignal(host.runner.stopped, timeout=10_000):
        host.runner.start(endless_job)
        host.runner.cancel()
    assert host.calls[-1] == ("cancelled", None)
    assert host.runner.shutdown()


def test_make_runner_refuses_an_unknown_signal(qtbot):
    with pytest.raises(ValueError, match="finshed"):
        Host().make_runner(finshed=print)


def test_the_worker_state_is_a_core_job_state(qtbot):
    worker = Worker(chatty_job, (1,))
    assert isinstance(worker.state, JobState) and isinstance(worker.state, JobStateProtocol)
