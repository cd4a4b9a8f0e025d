"""A text progress bar for the CLI: redraws one line on a terminal, prints sparse lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

from .jobs import Progress


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class TextProgress:
    """A ProgressCallback that draws `[#####-----]  45%  message  ETA 0:12` on stderr."""

    def __init__(self, stream: Optional[TextIO] = None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self._last_stage = None
        self._open_line = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        stage_changed = progress.stage != self._last_stage
        interval = 0.1 if self.tty else 5.0
        if not stage_changed and now - self._last_draw < interval and progress.fraction != 1.0:
            return
        self._last_draw, self._last_stage = now, progress.stage
        f = progress.fraction
        bar = "#" * int(self.width * (f or 0)) if f is not None else ""
        pct = f"{f:4.0%}" if f is not None else "  ? "
        line = f"[{bar:<{self.width}}] {pct}  {progress.message}  ETA {format_duration(progress.eta_seconds)}"
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(100))
            self._open_line = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False
