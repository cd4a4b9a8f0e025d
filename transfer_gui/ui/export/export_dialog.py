"""Export model: a dialog that writes TorchScript, ONNX or a model bundle, then shows the check.

The export and its check (the exported file re-scores the validation images and must match the
in-app model) run off the GUI thread. A failed check is shown as an error, never as a warning;
an ONNX file that could not be checked (no onnxruntime) says so plainly.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QRadioButton,
                               QVBoxLayout, QWidget)

from transfer_gui.core.export import ExportResult
from transfer_gui.core.jobs import Progress
from transfer_gui.core.jobs.export import export_job

from transfer_gui.ui.shortcuts import add_close_shortcuts
from transfer_gui.ui.folders import open_folder
from transfer_gui.ui.workers import JobHost
from transfer_gui.ui.error_dialog import plain_message

SUFFIX = {"torchscript": ".pt", "onnx": ".onnx", "bundle": "_bundle"}
OK_STYLE = "color: #1b7f3b;"
ERROR_STYLE = "color: #b3261e; font-weight: bold;"
UNVERIFIED_STYLE = "color: #a15c00; font-weight: bold;"


class ExportDialog(QDialog, JobHost):
    """Choose a format and a destination, export, and read the check's verdict."""

    exported = Signal(object)  # ExportResult whose check passed or was skipped

    def __init__(self, run_dir: Path, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.run_dir = Path(run_dir)
        self.result: Optional[ExportResult] = None
        self.setWindowTitle(self.tr("Export model"))
        self.setMinimumWidth(620)
        self.formats = QButtonGroup(self)
        self.buttons: dict[str, QRadioButton] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("Model of run <b>{run}</b>").format(run=self.run_dir.name)))
        for fmt, text in self._format_texts().items():
            button = QRadioButton(text)
            self.buttons[fmt] = button
            self.formats.addButton(button)
            layout.addWidget(button)
            button.toggled.connect(lambda on, fmt=fmt: on and self._on_format_chosen(fmt))
        if importlib.util.find_spec("onnx") is None:
            self.buttons["onnx"].setEnabled(False)
            self.buttons["onnx"].setToolTip(self.tr(
                "ONNX export needs the onnx package: pip install \"transfer-gui[onnx]\""))
        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        choose = QPushButton(self.tr("C&hoose…"))
        choose.clicked.connect(self._choose_path)
        save_to = QLabel(self.tr("&Save to:"))
        save_to.setBuddy(self.path_edit)
        row.addWidget(save_to)
        row.addWidget(self.path_edit, 1)
        row.addWidget(choose)
        layout.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.box = QDialogButtonBox()
        self.export_button = self.box.addButton(self.tr("&Export"),
                                                QDialogButtonBox.ButtonRole.AcceptRole)
        self.show_button = self.box.addButton(self.tr("Show in &folder"),
                                              QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.box.addButton(self.tr("&Close"),
                                               QDialogButtonBox.ButtonRole.RejectRole)
        self.show_button.setEnabled(False)
        self.export_button.clicked.disconnect()  # AcceptRole would close the dialog
        self.export_button.clicked.connect(self.start)
        self.show_button.clicked.connect(self._show_in_folder)
        self.box.rejected.connect(self.reject)
        layout.addWidget(self.box)
        self.runner = self.make_runner(
            progress=self._on_progress, finished=self._on_finished, failed=self._on_failed,
            cancelled=lambda _: self._end(self.tr("Export stopped."), ERROR_STYLE))
        self.buttons["torchscript"].setChecked(True)
        add_close_shortcuts(self, self.reject, escape=False)  # Ctrl+W; Esc is the dialog's own

    def _format_texts(self) -> dict[str, str]:
        onnx_note = "" if importlib.util.find_spec("onnxruntime") else self.tr(
            " (onnxruntime is not installed: the file cannot be checked)")
        return {
            "torchscript": self.tr("&TorchScript (.pt): for PyTorch and C++ programs, no Python "
                                   "code needed"),
            "onnx": self.tr("&ONNX (.onnx, opset 17): for ONNX Runtime, OpenCV and other "
                            "frameworks") + onnx_note,
            "bundle": self.tr("Model &bundle (folder): the model, labels, preprocessing, a model "
                              "card and a predict.py example"),
        }

    def _on_format_chosen(self, fmt: str) -> None:
        """A new format: propose its file name, and drop the last export's verdict (it was
        about another file) unless an export is still running."""
        self._suggest_path(fmt)
        if not self.runner.is_running():
            self.result = None
            self.status.clear()
            self.status.setStyleSheet("")
            self.status.setToolTip("")
            self.show_button.setEnabled(False)

    def selected_format(self) -> str:
        return next(fmt for fmt, button in self.buttons.items() if button.isChecked())

    def _suggest_path(self, fmt: str) -> None:
        current = Path(self.path_edit.text()) if self.path_edit.text() else None
        folder = current.parent if current else self.run_dir.parent
        self.path_edit.setText(str(folder / f"{self.run_dir.name}{SUFFIX[fmt]}"))

    def _choose_path(self) -> None:
        fmt = self.selected_format()
        if fmt == "bundle":
            path = QFileDialog.getExistingDirectory(self, self.tr("Folder for the bundle"))
            path = str(Path(path) / f"{self.run_dir.name}_bundle") if path else ""
        else:
            path, _ = QFileDialog.getSaveFileName(self, self.tr("Export model"),
                                                  self.path_edit.text(), f"*{SUFFIX[fmt]}")
        if path:
            self.path_edit.setText(path)

    def start(self) -> None:
        """Export to the chosen path in the background."""
        out = self.path_edit.text().strip()
        if not out:
            self._end(self.tr("Choose where to save the export."), ERROR_STYLE)
            return
        self.result = None
        self.export_button.setEnabled(False)
        self.show_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        self.status.setStyleSheet("")
        self.status.setText(self.tr("Exporting…"))
        self.runner.start(export_job, str(self.run_dir), self.selected_format(), out)

    def _on_progress(self, progress: Progress) -> None:
        if progress.fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(round(100 * progress.fraction))
        self.status.setText(progress.message)

    def _on_finished(self, result: ExportResult) -> None:
        self.result = result
        check = result.check
        if check.passed:
            text = self.tr("✔ Verified. {message}").format(message=check.message)
            self._end(text, OK_STYLE)
        else:  # skipped: written but unverified (ONNX without onnxruntime)
            self._end(self.tr("⚠ Written but NOT verified. {message}").format(
                message=check.message), UNVERIFIED_STYLE)
        self.show_button.setEnabled(True)
        self.exported.emit(result)

    def _on_failed(self, message: str, details: str) -> None:
        self._end(self.tr("✘ Export failed. {message}").format(message=plain_message(message)),
                  ERROR_STYLE)
        self.status.setToolTip(details or message)

    def _end(self, text: str, style: str) -> None:
        self.progress.hide()
        self.export_button.setEnabled(True)
        self.status.setStyleSheet(style)
        self.status.setText(text)

    def _show_in_folder(self) -> None:
        if self.result is not None:
            path = Path(self.result.path)
            folder = path if path.is_dir() else path.parent
            open_folder(self, folder)  # without a file manager: says where it is

    def reject(self) -> None:
        """Close (Esc, Close, the window's X): stop an export in progress first."""
        self.runner.shutdown()
        super().reject()
