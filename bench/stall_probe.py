"""What the GUI thread and the training worker are doing when the GUI stalls (for diagnosis).

Drives the real main window through the wizard on a dataset (as gui_responsiveness.py does) and
trains one mode through the Train page. Meanwhile a 10 ms QTimer on the GUI thread re-arms
`faulthandler.dump_traceback_later(threshold)`: when no tick comes for `threshold` ms, faulthandler's
C watchdog thread (it needs no interpreter lock, so it also sees stalls where a C extension holds
the lock) writes the stacks of every Python thread, again every `threshold` ms while the stall lasts.
Each tick after a gap writes a marker, so every dump is attributed to its gap. A Python sampler
thread also reads `sys._current_frames()` every 5 ms; when its own sleep overran, something held
the interpreter lock.

    python bench/stall_probe.py [--data DIR] [--mode feature_extraction] [--threshold-ms 50]
           [--top 8] [--json out.json]

Prints the longest gaps with the GUI and worker stacks during each, then the causes grouped by
the innermost frame of the GUI thread in this project, PySide6 or pyqtgraph.
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import json
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common  # noqa: F401  (repository root on sys.path, allocator tuning as in the app)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402

from gui_responsiveness import wait_until  # noqa: E402

_THREAD = re.compile(r"^(?:Current thread|Thread) (0x[0-9a-f]+)")
_FRAME = re.compile(r'^\s+File "([^"]+)", line (\d+) in (\S+)')
_MARK = re.compile(r"^=== gap (\d+) ([\d.]+) ms at ([\d.]+) s")
_INTERESTING = ("transfer_gui", "pyqtgraph", "PySide6", "torch", "PIL", "numpy")


@dataclass
class Gap:
    index: int
    ms: float
    at_s: float
    dumps: list[dict[int, list[tuple[str, int, str]]]] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)


class GapRecorder:
    """A GUI-thread timer whose missing ticks make faulthandler dump every thread's stack."""

    def __init__(self, path: Path, threshold_ms: int = 50, interval_ms: int = 10) -> None:
        self.threshold = threshold_ms / 1000
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[tuple[float, float]] = []  # (ms, end time in s)
        self.ticks = 0

    def start(self) -> None:
        self.clock.start()
        self._last = 0
        faulthandler.dump_traceback_later(self.threshold, repeat=True, file=self.fd)
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        faulthandler.cancel_dump_traceback_later()
        os.close(self.fd)

    def seconds(self) -> float:
        return self.clock.nsecsElapsed() / 1e9

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        gap = (now - self._last) / 1e9
        self._last = now
        self.ticks += 1
        if gap > self.threshold:
            self.gaps.append((gap * 1000, now / 1e9))
            os.write(self.fd, f"=== gap {len(self.gaps) - 1} {gap * 1000:.1f} ms at "
                              f"{now / 1e9:.3f} s\n".encode())
        faulthandler.dump_traceback_later(self.threshold, repeat=True, file=self.fd)


class Sampler(threading.Thread):
    """Reads every thread's innermost frames every `period` s; a late wake-up means the
    interpreter lock was held by another thread."""

    def __init__(self, clock_seconds, period: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.clock_seconds, self.period = clock_seconds, period
        self.samples: list[dict] = []
        self.running = True

    def run(self) -> None:
        me = threading.get_ident()
        while self.running:
            before = time.perf_counter()
            time.sleep(self.period)
            late_ms = (time.perf_counter() - before - self.period) * 1000
            frames = {ident: _stack_of(frame) for ident, frame in sys._current_frames().items()
                      if ident != me}
            self.samples.append({"t": self.clock_seconds(), "late_ms": late_ms,
                                 "stacks": frames})


def _stack_of(frame, depth: int = 40) -> list[tuple[str, int, str]]:
    out = []
    while frame is not None and len(out) < depth:
        out.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    return out  # innermost first, as faulthandler prints


def parse_dumps(path: Path, gaps: list[tuple[float, float]]) -> list[Gap]:
    """Dumps written before marker n belong to gap n."""
    result = [Gap(i, ms, at) for i, (ms, at) in enumerate(gaps)]
    pending: list[dict] = []
    dump: dict[int, list] = {}
    thread = None
    for line in Path(path).read_text(errors="replace").splitlines():
        if (m := _MARK.match(line)):
            if dump:
                pending.append(dump)
            index = int(m.group(1))
            if index < len(result):
                result[index].dumps = pending
            pending, dump, thread = [], {}, None
        elif line.startswith("Timeout ("):  # the start of one dump
            if dump:
                pending.append(dump)
            dump, thread = {}, None
        elif (m := _THREAD.match(line)):
            thread = int(m.group(1), 16)
            dump[thread] = []
        elif (m := _FRAME.match(line)) and thread is not None:
            dump[thread].append((m.group(1), int(m.group(2)), m.group(3)))
    return result


def short(frame: tuple[str, int, str]) -> str:
    path, line, name = frame
    for root in _INTERESTING:
        if f"/{root}/" in path:
            path = root + "/" + path.split(f"/{root}/", 1)[1]
            break
    else:
        path = Path(path).name
    return f"{path}:{line} {name}"


def role(stack: list[tuple[str, int, str]], ident: int, main: int) -> str:
    if ident == main:
        return "GUI"
    text = " ".join(f for f, _, _ in stack)
    if "jobs/train" in text or "training" in text:
        return "worker(train)"
    if "thumbnails" in text:
        return "thumbnails"
    return "other"


def innermost_interesting(stack: list[tuple[str, int, str]]) -> str:
    for frame in stack:
        if any(f"/{root}/" in frame[0] for root in _INTERESTING):
            return short(frame)
    return short(stack[0]) if stack else "(no Python frame)"


def describe(gap: Gap, main: int, frames: int) -> list[str]:
    lines = [f"gap {gap.index}: {gap.ms:.0f} ms ending at {gap.at_s:.2f} s, "
             f"{len(gap.dumps)} dump(s)"]
    for n, dump in enumerate(gap.dumps[:3]):
        for ident, stack in sorted(dump.items(), key=lambda kv: kv[0] != main):
            who = role(stack, ident, main)
            if who == "other" and not any("transfer_gui" in f for f, _, _ in stack):
                continue
            lines.append(f"  dump {n + 1} [{who}]")
            lines += [f"      {short(f)}" for f in stack[:frames]]
    inside = [s for s in gap.samples]
    if inside:
        late = max(s["late_ms"] for s in inside)
        lines.append(f"  sampler: {len(inside)} samples inside the gap, longest late wake-up "
                     f"{late:.0f} ms (interpreter lock held by another thread that long)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=_common.DEFAULT_DATA)
    parser.add_argument("--mode", default="feature_extraction")
    parser.add_argument("--epochs", type=int, default=0, help="0: the mode's default")
    parser.add_argument("--threshold-ms", type=int, default=50)
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--json", default="")
    args = parser.parse_args()

    from transfer_gui.ui.app import create_app, preload_training_modules
    from transfer_gui.ui.main_window import MainWindow

    app = create_app(sys.argv[:1])
    preload_training_modules()  # as the app does behind its start-up screen
    work = Path(tempfile.mkdtemp(prefix="stall_probe_"))
    window = MainWindow(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat),
                        runs_root=work / "runs")
    window.show()
    window.data_page.open_folder(args.data)
    wait_until(app, lambda: window.state.dataset is not None, 120)
    window.state.set_mode(args.mode)
    if args.epochs:
        window.state.set_setting("epochs", args.epochs)
    window.go_to(3)
    settle = time.monotonic() + 2  # the Train page paints and thumbnails load, as before a click
    wait_until(app, lambda: time.monotonic() > settle, 10)
    done: list = []
    window.train_page.trainingFinished.connect(done.append)
    recorder = GapRecorder(work / "dumps.txt", args.threshold_ms)
    sampler = Sampler(recorder.seconds)
    recorder.start()
    sampler.start()
    started = time.perf_counter()
    window.train_page.start_button.click()  # as the user does
    wait_until(app, lambda: bool(done), 1800)
    seconds = time.perf_counter() - started
    sampler.running = False
    recorder.stop()
    sampler.join()
    window.projects.dirty = False
    window.close()

    main_ident = threading.main_thread().ident
    gaps = parse_dumps(work / "dumps.txt", recorder.gaps)
    for gap in gaps:
        gap.samples = [s for s in sampler.samples if gap.at_s - gap.ms / 1000 <= s["t"] <= gap.at_s]
    total_stall = sum(g.ms for g in gaps)
    result = done[0]
    print(f"{args.mode} on {args.data}: {seconds:.1f} s from Start to finished "
          f"(best val accuracy {result.best['val_acc'] if result and result.best else None}); "
          f"{recorder.ticks} ticks, {len(gaps)} gaps > {args.threshold_ms} ms, "
          f"{total_stall / 1000:.2f} s in them")
    late = sorted((s["late_ms"] for s in sampler.samples), reverse=True)[:5]
    print(f"sampler: {len(sampler.samples)} samples; longest late wake-ups (ms): "
          + ", ".join(f"{x:.0f}" for x in late))
    print()
    for gap in sorted(gaps, key=lambda g: -g.ms)[:args.top]:
        print("\n".join(describe(gap, main_ident, args.frames)))
        print()
    causes: dict[str, list[float]] = collections.defaultdict(list)
    worker_causes: dict[str, list[float]] = collections.defaultdict(list)
    for gap in gaps:
        first = gap.dumps[0] if gap.dumps else {}
        causes[innermost_interesting(first.get(main_ident, []))].append(gap.ms)
        work_stacks = [s for i, s in first.items() if role(s, i, main_ident) == "worker(train)"]
        worker_causes[innermost_interesting(work_stacks[0]) if work_stacks else "(no worker)"
                      ].append(gap.ms)
    for title, table in (("GUI thread, innermost frame at the first dump", causes),
                         ("training worker, innermost frame at the first dump", worker_causes)):
        print(title + ":")
        for name, values in sorted(table.items(), key=lambda kv: -sum(kv[1]))[:10]:
            print(f"  {sum(values):7.0f} ms in {len(values):3d} gaps (max {max(values):4.0f} ms)"
                  f"  {name}")
        print()
    busy: dict[str, list[float]] = collections.defaultdict(list)
    for sample in sampler.samples:
        for ident, stack in sample["stacks"].items():
            names = {name for _, _, name in stack}
            for job in ("thumbnail_job", "train_job", "explain_job", "predict_job"):
                if job in names:
                    busy[job].append(sample["t"])
    print("background jobs seen by the sampler (first, last second; samples):")
    for job, times in busy.items():
        print(f"  {job}: {min(times):.2f} to {max(times):.2f} s; {len(times)} samples")
    print()
    if args.json:
        Path(args.json).write_text(json.dumps({
            "seconds": seconds, "ticks": recorder.ticks, "threshold_ms": args.threshold_ms,
            "gaps": [{"ms": g.ms, "at_s": g.at_s,
                      "dumps": [{("GUI" if i == main_ident else hex(i)): [short(f) for f in s]
                                 for i, s in d.items()} for d in g.dumps]} for g in gaps],
            "environment": _common.environment()}, indent=1))
    print(f"raw dumps: {work / 'dumps.txt'}")


if __name__ == "__main__":
    main()
