"""Longest GUI event-loop stall while the app trains (target: under 100 ms).

Drives the real main window (offscreen by default) through the wizard on a dataset, starts
training in each requested mode, and meanwhile a 10 ms QTimer probe records how late each of its
ticks fires. A stall is the time between two ticks beyond the interval: the GUI thread could not
process events for that long. Prints the longest stall, the 99th percentile and the tick count
per mode, then one JSON line. Opening the dataset (the Data page's scan, counts and thumbnails)
is probed too, and each mode's probe runs on for --after seconds once training has ended (the
Results pages fill then). Features go to a fresh disk cache in a temporary folder (cold, as
the app's own), and the process's peak resident memory (VmHWM, GUI included) is printed.

    python bench/gui_responsiveness.py [--data DIR] [--modes feature_extraction fine_tuning]
    python bench/gui_responsiveness.py --data /tmp/transfer_gui_bench_100k/data \
        --modes feature_extraction                    # the 100,000-image laptop check
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (repository root on sys.path, allocator tuning as in the app)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402


class StallProbe:
    """Records the gaps between the ticks of a fast timer on the GUI thread."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.interval = interval_ms / 1000
        self.clock = QElapsedTimer()
        self.gaps: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self._last = None

    def start(self) -> None:
        self.gaps.clear()
        self.clock.start()
        self._last = self.clock.nsecsElapsed()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self.gaps.append((now - self._last) / 1e9)
        self._last = now

    def stalls(self) -> np.ndarray:
        return np.maximum(np.array(self.gaps) - self.interval, 0.0)


def wait_until(app, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        app.processEvents()
        time.sleep(0.002)


def wait_for(app, seconds: float) -> None:
    """Process events for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.002)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=_common.DEFAULT_DATA)
    parser.add_argument("--modes", nargs="+", default=["feature_extraction", "fine_tuning"])
    parser.add_argument("--epochs-ft", type=int, default=2, help="fine-tuning epochs to run")
    parser.add_argument("--after", type=float, default=5.0,
                        help="seconds probed after training ends (default: %(default)s)")
    args = parser.parse_args()
    from transfer_gui.core.feature_cache import configure_default_feature_cache

    from transfer_gui.ui.app import create_app, freeze_long_lived_objects, preload_training_modules
    from transfer_gui.ui.main_window import MainWindow

    app = create_app(sys.argv[:1])
    preload_training_modules()  # as the app does behind its start-up screen
    work = Path(tempfile.mkdtemp(prefix="gui_bench_"))
    window = MainWindow(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat),
                        runs_root=work / "runs")
    window.show()
    freeze_long_lived_objects()  # as the app does once its window is open
    configure_default_feature_cache(work / "features")  # cold, on disk, as the app's
    probe = StallProbe()
    probe.start()
    started = time.perf_counter()
    window.data_page.open_folder(args.data)
    wait_until(app, lambda: window.state.dataset is not None, 600)
    opened = time.perf_counter() - started
    wait_for(app, args.after)  # the counts, thumbnails and lists settle
    probe.stop()
    stalls = probe.stalls()
    figures = {"environment": _common.environment(), "modes": {}, "open": {
        "seconds": round(opened, 2), "images": len(window.state.dataset.samples),
        "max_stall_ms": round(1000 * float(stalls.max()), 1), "met": bool(stalls.max() < 0.1)}}
    print(f"open the dataset ({figures['open']['images']} images): {opened:.2f} s, longest "
          f"stall {figures['open']['max_stall_ms']} ms (target < 100: "
          f"{'MET' if figures['open']['met'] else 'NOT MET'})")
    for mode in args.modes:
        window.state.set_mode(mode)
        if mode == "fine_tuning":
            window.state.set_setting("epochs", args.epochs_ft)
        window.go_to(3)
        done = []
        window.train_page.trainingFinished.connect(done.append)
        probe.start()
        started = time.perf_counter()
        window.train_page.start()
        wait_until(app, lambda: bool(done), 3 * 3600)
        seconds = time.perf_counter() - started
        wait_for(app, args.after)  # the Results pages fill
        probe.stop()
        window.train_page.trainingFinished.disconnect(done.append)
        stalls = probe.stalls()
        row = {"max_stall_ms": round(1000 * float(stalls.max()), 1),
               "p99_stall_ms": round(1000 * float(np.percentile(stalls, 99)), 1),
               "ticks": len(stalls), "training_seconds": round(seconds, 1),
               "best_val_acc": done[0].best["val_acc"] if done[0] and done[0].best else None,
               "target_max_stall_ms": 100, "met": bool(stalls.max() < 0.1)}
        figures["modes"][mode] = row
        print(f"{mode}: longest stall {row['max_stall_ms']} ms (target < 100: "
              f"{'MET' if row['met'] else 'NOT MET'}), p99 {row['p99_stall_ms']} ms, "
              f"{row['ticks']} ticks over {row['training_seconds']} s, "
              f"best val accuracy {row['best_val_acc']}")
    window.projects.dirty = False  # no unsaved-runs prompt in a script
    window.close()
    peak = _common.peak_rss_bytes()["vm_hwm"]
    figures["peak_rss_gb"] = round(peak / 1e9, 3)
    print(f"peak resident memory of the app process (VmHWM): {peak / 1e9:.2f} GB "
          f"(target < 4: {'MET' if peak < 4e9 else 'NOT MET'})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
