"""The Train page's "Run on another machine…": writes a job folder (core/job.py) with the
current settings and a manifest of the dataset's images, then shows the command to run on the
machine that trains (a server with a GPU, say). The run folder it writes can be opened or added
to the project afterwards like any run."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton, QWidget

from transfer_gui.core.jobs.job_folder import job_folder_job
from transfer_gui.ui.error_dialog import plain_message
from transfer_gui.ui.state import AppState
from transfer_gui.ui.workers import JobHost


class JobButton(QPushButton, JobHost):
    """Enabled with a dataset and valid settings; busy (disabled, "Writing the job…") while the
    images are hashed."""

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(self.tr("Run on another &machine…"), parent)
        self.state = state
        self.result_box: Optional[QMessageBox] = None
        self.runner = self.make_runner(finished=self._on_written, failed=self._on_failed,
                                       stopped=self._update)
        self.setToolTip(self.tr(
            "Write a job folder: these settings, a list of your images with checksums, and the "
            "command that trains them on another computer (a server with a GPU, say)"))
        self.clicked.connect(self.choose_folder)
        state.datasetChanged.connect(self._update)
        state.correctionsChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        busy = self.runner.is_running()
        self.setEnabled(self.state.dataset is not None and not busy)
        self.setText(self.tr("Writing the job…") if busy else
                     self.tr("Run on another &machine…"))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("An empty folder for the job"))
        if folder:
            self.write(Path(folder))

    def write(self, folder: Path) -> None:
        """Write the job into `folder` in the background (the result is shown when done)."""
        if self.state.dataset is None or self.runner.is_running():
            return
        if self.state.corrections:
            self._tell(QMessageBox.Icon.Information, self.tr(
                "A job uses the dataset folder as it is on disk, and your corrections on the "
                "Data page (pictures left out or relabelled) cannot travel with it yet. Make "
                "them in the folder itself, or train here."))
            return
        try:
            config = self.state.config()
        except Exception as exc:  # a bad setting: the Settings page says which
            self._tell(QMessageBox.Icon.Warning, plain_message(str(exc)))
            return
        self.runner.start(job_folder_job, folder, config, self.state.scanned)
        self._update()

    def _on_written(self, job) -> None:
        command = job.command(data_dir="DATASET_FOLDER")
        several = job.command(data_dir="DATASET_FOLDER", processes="GPUS")
        self._tell(QMessageBox.Icon.Information, self.tr(
            "<p>The job is in <b>{folder}</b> ({n} images).</p><p>Copy the dataset folder and "
            "the job folder to the computer that trains, install transfer_gui there, and "
            "run:</p>{command}<p>or, with one process per GPU (GPUS: how many):</p>"
            "{several}<p>(--data can be left out where the dataset has the same "
            "path there.) The images are checked against the job first. Follow the run here "
            "with File → Follow a run folder… (on a shared drive), or add it when it is "
            "done (Compare → Add run folder…).</p>").format(
                folder=html.escape(str(job.folder)), n=f"{len(job.files):,}",
                command=_command_html(command), several=_command_html(several)), rich=True)

    def _on_failed(self, message: str, details: str) -> None:
        self._tell(QMessageBox.Icon.Warning, self.tr("The job could not be written: {0}").format(
            plain_message(message)))

    def _tell(self, icon: QMessageBox.Icon, text: str, rich: bool = False) -> None:
        box = QMessageBox(icon, self.tr("Run on another machine"), text,
                          QMessageBox.StandardButton.Ok, self.window())
        box.setObjectName("jobMessage")
        box.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
        if rich:  # the commands: wide enough that they wrap at most once
            box.setStyleSheet("QLabel#qt_msgbox_label { min-width: 640px; }")
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_box = box
        box.open()  # not modal to the app's event loop: training pages keep updating

    def shutdown(self) -> None:
        self.runner.shutdown()


def _command_html(command: str) -> str:
    """A command line in monospace that wraps at the box's edge (a <pre> would cut it off),
    selected and copied as the one line it is."""
    return (f'<p style="white-space: pre-wrap; font-family: monospace;">'
            f'{html.escape(command)}</p>')
