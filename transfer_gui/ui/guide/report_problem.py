"""Help > Report a problem: run `transfer-gui --self-test` in a child process and put its report
on the clipboard, so a user can paste it into an e-mail or an issue.

The self-test starts a window of its own and trains one epoch, so it runs as a separate process
(QProcess): the user's window stays responsive and its state untouched.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QObject, QProcess, Signal
from PySide6.QtGui import QGuiApplication

REPORT_NAME = "self-test-report.json"


def self_test_command(report: Path) -> list[str]:
    """The command line that writes the self-test report to `report` (frozen or not)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--self-test", "--report", str(report)]
    return [sys.executable, "-m", "transfer_gui", "--self-test", "--report", str(report)]


class ProblemReporter(QObject):
    """Runs the self-test once at a time; `finished(text, ok)` after the text is on the clipboard
    (`ok` is False when no report was written and the text is the process's own output)."""

    finished = Signal(str, bool)

    def __init__(self, parent: Optional[QObject] = None,
                 command: Callable[[Path], list[str]] = self_test_command) -> None:
        super().__init__(parent)
        self._command = command
        self._process: Optional[QProcess] = None
        self._folder: Optional[tempfile.TemporaryDirectory] = None

    def is_running(self) -> bool:
        return self._process is not None

    def start(self) -> bool:
        """Start the self-test; False (and nothing started) if one is already running."""
        if self._process is not None:
            return False
        self._folder = tempfile.TemporaryDirectory(prefix="transfer-gui-report-")
        program, *args = self._command(Path(self._folder.name) / REPORT_NAME)
        self._process = QProcess(self)
        self._process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)
        self._process.start(program, args)
        return True

    def stop(self) -> None:
        """Kill a running self-test and wait for it (the window is closing)."""
        if self._process is not None:
            self._process.kill()
            self._process.waitForFinished(5000)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._finish(f"The self-test could not start: {self._process.errorString()}", False)

    def _on_finished(self, _code: int, _status: QProcess.ExitStatus) -> None:
        report = Path(self._folder.name) / REPORT_NAME
        if report.is_file():
            self._finish(report.read_text(encoding="utf-8"), True)
        else:
            output = bytes(self._process.readAll()).decode("utf-8", "replace")
            self._finish("The self-test wrote no report. Its output:\n" + output, False)

    def _finish(self, text: str, ok: bool) -> None:
        if self._process is None:
            return
        process, self._process = self._process, None
        process.deleteLater()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
        QGuiApplication.clipboard().setText(text)
        self.finished.emit(text, ok)
