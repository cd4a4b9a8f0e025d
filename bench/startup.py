"""Start-up: `transfer-gui --help`, `train --help`, and how soon the app's windows appear.

Each figure is the median of --repeats fresh processes (wall time from spawn) with the largest
peak RSS among them: GNU time's %M for the help commands (os.wait4 would count this script's own
memory, copied at fork), VmHWM just before the app is ended for the windows. The window figures start the app on an
X display (DISPLAY, or an Xvfb this script starts when Xvfb is installed) with fresh settings, and
poll `xdotool` for the start-up screen ("Transfer GUI - starting") and for the main window; then
the app is ended (SIGTERM, by its PID). Targets: help < 0.5 s; a window < 3 s.

    python bench/startup.py [--repeats 5] [--no-window]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from _common import REPO_ROOT, Figures, _proc_status_kib, mb, print_header

SPLASH = "^Transfer GUI - starting"
MAIN_WINDOW = "^Transfer GUI$"


def app_command() -> list[str]:
    return [sys.executable, "-m", "transfer_gui"]


def child_env(home: Path, display: Optional[str] = None) -> dict[str, str]:
    """This checkout on the path, fresh settings and app data; Qt on `display` when given."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data")}
    env.pop("QT_QPA_PLATFORM", None)
    if display:
        env["DISPLAY"] = display
    return env


def time_command(args: list[str], repeats: int, env: dict[str, str],
                 home: Path) -> tuple[float, Optional[float]]:
    """Median wall seconds and largest peak RSS (MB, None without GNU time) of `repeats` runs."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    walls, peaks = [], []
    for _ in range(repeats):
        report = home / "time.txt"
        prefix = [gnu_time, "-f", "%M", "-o", str(report)] if gnu_time else []
        started = time.perf_counter()
        done = subprocess.run(prefix + app_command() + args, env=env, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} exited with {done.returncode}")
        if gnu_time:
            peaks.append(int(report.read_text().split()[-1]) * 1024)
    return statistics.median(walls), (mb(max(peaks)) if peaks else None)


def _visible(display: str, title: str) -> bool:
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title],
                           capture_output=True, text=True, env={**os.environ, "DISPLAY": display})
    return bool(found.stdout.strip())


def time_window(display: str, env: dict[str, str], timeout_s: float = 120.0) -> dict[str, float]:
    """Seconds from spawn until the start-up screen and the main window are visible; peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(app_command(), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    seen: dict[str, float] = {}
    try:
        while "main" not in seen and time.perf_counter() - started < timeout_s:
            if proc.poll() is not None:
                raise SystemExit(f"the app exited with {proc.returncode} before its window showed")
            now = time.perf_counter() - started
            if "splash" not in seen and _visible(display, SPLASH):
                seen["splash"] = now
            if _visible(display, MAIN_WINDOW):
                seen["main"] = now
                seen.setdefault("splash", now)  # gone already: no later than the window
            time.sleep(0.02)
    finally:
        peak_kib = _proc_status_kib("VmHWM", str(proc.pid))
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    if "main" not in seen:
        raise SystemExit(f"no main window after {timeout_s:.0f} s")
    seen["peak_mb"] = mb(peak_kib * 1024) if peak_kib else None
    return seen


def start_xvfb() -> tuple[Optional[str], Optional[subprocess.Popen]]:
    """A display to use: $DISPLAY, else a fresh Xvfb (None when neither is available)."""
    if os.environ.get("DISPLAY"):
        return os.environ["DISPLAY"], None
    if not shutil.which("Xvfb"):
        return None, None
    for number in range(140, 160):
        if not Path(f"/tmp/.X11-unix/X{number}").exists():
            server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1366x768x24",
                                       "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            time.sleep(1.0)
            return f":{number}", server
    return None, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--no-window", action="store_true", help="skip the window figures")
    options = parser.parse_args()
    figures = Figures("startup")
    print_header("Start-up: --help and the app's window", figures)
    home = Path(tempfile.mkdtemp(prefix="transfer-gui-bench-startup-"))
    try:
        env = child_env(home)
        walls = []
        for _ in range(options.repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            walls.append(time.perf_counter() - started)
        figures.add("python_s", statistics.median(walls),
                    "reference: a bare interpreter (python -c pass), median wall", "s",
                    note="what the load leaves of the CPUs")
        for key, args in (("help", ["--help"]), ("train_help", ["train", "--help"])):
            wall, peak = time_command(args, options.repeats, env, home)
            figures.add(f"{key}_s", wall, f"transfer-gui {' '.join(args)}, median wall", "s",
                        target=("<", 0.5))
            figures.add(f"{key}_peak_mb", peak, f"transfer-gui {' '.join(args)}, peak RSS", "MB",
                        digits=0)
        if not options.no_window and shutil.which("xdotool"):
            display, server = start_xvfb()
            if display is None:
                figures.info("no X display and no Xvfb: window figures skipped")
            else:
                try:
                    runs = [time_window(display, child_env(home, display))
                            for _ in range(options.repeats)]
                finally:
                    if server is not None:
                        server.terminate()
                        server.wait()
                figures.add("splash_s", statistics.median(r["splash"] for r in runs),
                            "app: start-up screen visible, median from spawn", "s",
                            target=("<", 3.0))
                figures.add("window_s", statistics.median(r["main"] for r in runs),
                            "app: main window visible, median from spawn", "s")
                figures.add("window_peak_mb", max((r["peak_mb"] or 0) for r in runs),
                            "app: peak RSS with the main window open", "MB", digits=0)
        elif not options.no_window:
            figures.info("xdotool not installed: window figures skipped")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    figures.finish()


if __name__ == "__main__":
    main()
