"""Predict page: "Compare with new images…" and "Recalibrate…" (issue 14, dataset shift).

`ShiftButton` sits in the page's tool row. It asks for a folder of new images and opens a
`ShiftDialog`, which runs `shift_job` in the background (progress, Stop) and shows the finding in
plain words, one row per class, and the test behind it. From there "Recalibrate and save as…"
runs `recalibrate_job` into a new model file the user chooses (never inside a run folder, never
over the original model), scoring both models on a few labelled images when the user gives them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QMessageBox, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from transfer_gui.core.errors import UserError
from transfer_gui.core.jobs import Progress
from transfer_gui.core.jobs.shift import recalibrate_job, shift_job
from transfer_gui.core.output_folder import default_output_folder
from transfer_gui.core.shift import (CLEAR, CLEAR_P, MIN_PER_SIDE, SOME, SOME_P, ShiftReport,
                                     class_p_text, p_text)
from transfer_gui.ui.error_dialog import plain_message
from transfer_gui.ui.state import AppState
from transfer_gui.ui.workers import JobHost

RECALIBRATED_FOLDER = "Recalibrated models"  # under the outputs folder
LEVEL_STYLE = {  # background, text and border of the finding, by level
    CLEAR: "background: #fde7e4; color: #6b1c12; border: 1px solid #f1b3aa;",
    SOME: "background: #fff7dc; color: #5c4600; border: 1px solid #ecd58c;",
    "none": "background: #e6f4ea; color: #17462a; border: 1px solid #a8d5b5;",
}


def class_words(p_value: float) -> str:
    """A class's row in words."""
    if p_value < CLEAR_P:
        return "clearly different"
    return "somewhat different" if p_value < SOME_P else "no sign of a difference"


def default_model_path(model_path: Path, new_dir: str) -> Path:
    """"<outputs folder>/Recalibrated models/<run>-recalibrated-to-<new folder>.pt"."""
    return (default_output_folder() / RECALIBRATED_FOLDER
            / f"{model_path.parent.name}-recalibrated-to-{Path(new_dir).name}.pt")


class ShiftDialog(QDialog, JobHost):
    """Compares a folder of new images with the model's training images, then offers to
    recalibrate. The job starts at once; closing the dialog stops it."""

    def __init__(self, model_path: Path, new_dir: str, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.model_path, self.new_dir = Path(model_path), new_dir
        self.report: Optional[ShiftReport] = None
        self.labelled: Optional[str] = None
        self.saved: Optional[str] = None
        self.setWindowTitle(self.tr("Compare with new images"))
        self.runner = self.make_runner(progress=self._on_progress, finished=self._on_finished,
                                       failed=self._on_failed, cancelled=self._on_cancelled,
                                       stopped=self._on_stopped)

        folder = QLabel(self.tr("New images: {0}").format(new_dir), wordWrap=True, toolTip=(
            self.tr("The folder compared with the model's training images")))
        self.finding = QLabel(wordWrap=True, objectName="shiftFinding", textInteractionFlags=(
            Qt.TextInteractionFlag.TextSelectableByMouse))
        self.finding.setToolTip(self.tr("What the comparison found, in plain words"))
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(
            [self.tr("Class"), self.tr("New images"), self.tr("Training images"),
             self.tr("Compared with the training images")])
        self.table.setToolTip(self.tr(
            "New images are grouped by the class the model predicts for them, and compared with "
            "the training images of that class. The p-values are adjusted for testing several "
            "classes (Holm), so one class does not look different by chance alone."))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)  # _fit_class_column
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)  # a long class name is elided, whole in its tooltip
        self.details = QLabel(wordWrap=True, styleSheet="color: palette(dark);", toolTip=self.tr(
            "The test behind the finding: a kernel two-sample test (MMD) on the features the "
            "model's classifier sees, with a permutation p-value"))

        self.status = QLabel(wordWrap=True)  # a failure's message, or a long saved path
        self.progress_bar = QProgressBar(textVisible=False, minimum=0, maximum=1000,
                                         minimumWidth=200, toolTip=self.tr("How far the job is"))
        self.stop_button = QPushButton(self.tr("&Stop"), clicked=self.runner.cancel, toolTip=(
            self.tr("Stop the comparison or the recalibration")))
        running = QHBoxLayout()
        running.addWidget(self.status, 1)
        running.addWidget(self.progress_bar)
        running.addWidget(self.stop_button)
        self.labelled_label = QLabel(self.tr("Labelled new images (optional): none"), toolTip=(
            self.tr("A few new images sorted into one subfolder per class: both models are "
                    "scored on them, and the recalibrated one is kept only if it does better")))
        self.labelled_button = QPushButton(self.tr("&Labelled images…"), clicked=(
            self._choose_labelled), toolTip=self.labelled_label.toolTip())
        self.recalibrate_button = QPushButton(self.tr("&Recalibrate and save as…"), clicked=(
            self._choose_and_recalibrate), toolTip=self.tr(
            "Adapt the model's batch-norm statistics to these images (no labels needed) and save "
            "it as a new model file; the original model stays as it is"))
        recal = QHBoxLayout()
        recal.addWidget(self.labelled_label, 1)
        recal.addWidget(self.labelled_button)
        recal.addWidget(self.recalibrate_button)
        self.recalibration = QLabel(wordWrap=True, toolTip=self.tr("What the recalibration did"),
                                    textInteractionFlags=self.finding.textInteractionFlags())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for part in (folder, running, self.finding, self.table, self.details, recal,
                     self.recalibration, buttons):
            if isinstance(part, QWidget):
                layout.addWidget(part, 1 if part is self.table else 0)
            else:
                layout.addLayout(part)
        self.resize(780, 520)
        buttons.button(QDialogButtonBox.StandardButton.Close).setFocus()
        self._set_running(True, self.tr("Comparing with the training images…"))
        self.runner.start(shift_job, str(self.model_path), new_dir)

    # ------------------------------------------------------------------ public
    def is_running(self) -> bool:
        return self.runner.is_running()

    def shutdown(self) -> None:
        self.runner.shutdown()

    def recalibrate(self, out: str | Path, labelled: Optional[str] = None) -> None:
        """Start recalibrating into `out` (already checked), scoring on `labelled` if given."""
        self.recalibration.clear()
        self._set_running(True, self.tr("Recalibrating…"))
        self.runner.start(recalibrate_job, str(self.model_path), self.new_dir, str(out),
                          labelled, True)

    # ------------------------------------------------------------------ dialogs
    def _choose_labelled(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Labelled new images"))
        if folder:
            self.labelled = folder
            self.labelled_label.setText(self.tr("Labelled new images: {0}").format(folder))

    def _choose_and_recalibrate(self) -> None:
        from transfer_gui.core.model_file import load_model
        from transfer_gui.core.recalibrate import check_output

        default = default_model_path(self.model_path, self.new_dir)
        try:
            default.parent.mkdir(parents=True, exist_ok=True)
            loaded = load_model(self.model_path)
        except (OSError, UserError) as exc:
            self._show_status(plain_message(str(exc)), error=True)
            return
        title = self.tr("Save the recalibrated model")
        while True:
            path, _ = QFileDialog.getSaveFileName(self, title, str(default),
                                                  self.tr("Model file (*.pt)"))
            if not path:
                return
            try:  # the file dialog already asked about replacing an existing file
                check_output(path, loaded, overwrite=True)
            except UserError as exc:
                QMessageBox.warning(self, title, plain_message(str(exc)))
                continue
            self.recalibrate(path, self.labelled)
            return

    # ------------------------------------------------------------------ job signals
    def _set_running(self, running: bool, text: str = "") -> None:
        self.progress_bar.setVisible(running)
        self.stop_button.setVisible(running)
        idle_with_report = not running and self.report is not None
        self.recalibrate_button.setEnabled(idle_with_report)
        self.labelled_button.setEnabled(idle_with_report)
        if text:
            self._show_status(text)

    def _show_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #b3261e;" if error else "")

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        if progress.fraction is not None:
            self.progress_bar.setValue(int(progress.fraction * 1000))
        if progress.message:
            self.status.setText(progress.message)

    @Slot(object)
    def _on_finished(self, result) -> None:
        if isinstance(result, ShiftReport):
            self.show_report(result)
            self._show_status(self.tr("Done."))
        else:
            self.saved = result.saved
            self.recalibration.setText(result.summary())
            self._show_status(self.tr("Saved {0}").format(result.saved) if result.saved
                              else self.tr("Kept the original model."))

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._show_status(plain_message(message), error=True)
        self.status.setToolTip("\n\n".join(p for p in (message, details) if p))

    @Slot(object)
    def _on_cancelled(self, _result) -> None:
        self._show_status(self.tr("Stopped."))

    @Slot()
    def _on_stopped(self) -> None:
        self._set_running(False)

    def show_report(self, report: ShiftReport) -> None:
        self.report = report
        self.finding.setText(report.summary())
        self.finding.setStyleSheet(f"QLabel#shiftFinding {{ {LEVEL_STYLE[report.level]} "
                                   f"border-radius: 4px; padding: 6px; }}")
        self.table.setRowCount(len(report.per_class))
        for row, c in enumerate(report.per_class):
            words = (self.tr("not compared: fewer than {0} images").format(MIN_PER_SIDE)
                     if c.test is None
                     else f"{class_words(c.adjusted_p)} ({class_p_text(report, c)})")
            for col, text in enumerate((c.name, str(c.n_new), str(c.n_reference), words)):
                item = QTableWidgetItem(text)
                item.setToolTip(text if col in (0, 3) else "")
                if col in (1, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self._fit_class_column()
        t = report.overall
        self.details.setText(self.tr(
            "Kernel MMD test on the features the model's classifier sees: MMD² {0:.4f}, {1}, "
            "{2} permutations; {3} of {4} new images against {5} of {6} training images.").format(
            t.mmd2, p_text(t.p_value, t.permutations), t.permutations, report.compared_new,
            report.new_images, report.compared_reference, report.reference_images))

    def _fit_class_column(self) -> None:
        """As wide as the class names, at most 40% of the table (a long name is elided)."""
        cap = max(120, int(self.table.viewport().width() * 0.4))
        names = min(self.table.sizeHintForColumn(0) + 12, cap)  # no narrower than "Class"
        self.table.setColumnWidth(0, max(names, self.table.horizontalHeader().sectionSizeHint(0)))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._fit_class_column()

    def reject(self) -> None:  # Close, Escape or the window's close button: stop the job first
        self.runner.shutdown()
        super().reject()


class ShiftButton(QPushButton):
    """"Compare with new images…": enabled while the page has a model; opens a ShiftDialog."""

    def __init__(self, state: AppState, model_path: Callable[[], Optional[Path]],
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(self.tr("Compare with &new images…"), parent)
        self.state, self._model_path = state, model_path
        self.dialog: Optional[ShiftDialog] = None
        self.setToolTip(self.tr(
            "Choose a folder of new images (no labels needed) to see whether they look like the "
            "training images, class by class, and to recalibrate the model to them"))
        self.clicked.connect(self._choose_folder)
        state.resultChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.setEnabled(self._model_path() is not None)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Folder of new images"))
        if folder:
            self.compare(folder)

    def compare(self, folder: str) -> Optional[ShiftDialog]:
        """Open the dialog comparing `folder` with the model's training images."""
        model = self._model_path()
        if model is None:
            return None
        self.shutdown()
        self.dialog = ShiftDialog(model, folder, self.window())
        self.dialog.setModal(True)
        self.dialog.open()
        return self.dialog

    def shutdown(self) -> None:
        """Stop a dialog's job and close it (the page is closing)."""
        if self.dialog is not None:
            self.dialog.shutdown()
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
