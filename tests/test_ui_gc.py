"""Garbage is collected on the GUI thread only (ui/app.collect_garbage_on_gui_thread): a
collection in a worker thread can deadlock against Qt (seen in a Compare run)."""

from __future__ import annotations

import gc
import threading

from transfer_gui.ui.app import collect_garbage_on_gui_thread


class _Cycle:
    threads: list[bool] = []

    def __init__(self) -> None:
        self.me = self  # only the cycle collector can free it

    def __del__(self) -> None:
        _Cycle.threads.append(threading.current_thread() is threading.main_thread())


def test_cycles_made_in_a_worker_are_freed_by_the_gui_thread(qtbot):
    collect_garbage_on_gui_thread()
    assert not gc.isenabled()
    _Cycle.threads.clear()

    def make_garbage() -> None:
        for _ in range(5 * gc.get_threshold()[0]):  # would start automatic collections
            _Cycle()

    worker = threading.Thread(target=make_garbage)
    worker.start()
    worker.join()
    assert _Cycle.threads == []  # nothing was collected in the worker
    qtbot.waitUntil(lambda: len(_Cycle.threads) > 0, timeout=5000)  # the GUI timer's collection
    assert all(_Cycle.threads)
