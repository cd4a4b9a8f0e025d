"""The progress bar and Stop button of a window that runs one background job at a time (the
"Which backbone?" ranking, its ensemble row, the settings search): one home for stopping,
shutting down and showing progress, so each window says only what differs."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from transfer_gui.core.jobs import Progress


class JobProgress:
    """Mixin for a widget with `runner` (a TaskRunner), `progress_bar` (range 0-1000) and
    `stop_button`. Stop asks the job to end and the bar says "Stopping…" until it has."""

    def is_running(self) -> bool:
        return self.runner.is_running()

    def stop(self) -> None:
        if self.runner.is_running():
            self.stop_button.setEnabled(False)
            self.progress_bar.setFormat(QCoreApplication.translate("JobProgress", "Stopping…"))
            self.runner.cancel()

    def shutdown(self) -> None:
        """Stop the job and wait for it (call when the window closes for good)."""
        self.runner.shutdown()

    def show_running(self, running: bool, first_message: str = "") -> None:
        """The bar and Stop while a job runs; hidden otherwise."""
        self.progress_bar.setVisible(running)
        self.stop_button.setVisible(running)
        self.stop_button.setEnabled(running)
        if running:
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat(first_message or QCoreApplication.translate(
                "JobProgress", "Starting…"))

    def _on_progress(self, progress: Progress) -> None:
        if not self.stop_button.isEnabled():  # stopping: keep saying so
            return
        if progress.fraction is not None:
            self.progress_bar.setValue(int(progress.fraction * 1000))
        self.progress_bar.setFormat(f"%p%  {progress.message}" + self._progress_suffix(progress))

    def _progress_suffix(self, progress: Progress) -> str:
        """More words after the job's message (e.g. the time left); none by default."""
        return ""
