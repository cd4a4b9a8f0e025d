"""Step 1, "Data": choose the dataset folder and see its classes, splits, problems and examples.

The folder is scanned off the GUI thread (`scan_job`, on the page's job runner); choosing another folder
cancels a running scan and drops its result. Dataset problems are explained on the page, never in
a modal dialog: they are the user's data, and the page is where they look at it.
"""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import QDir, QMimeData, QSettings, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QBoxLayout, QFileDialog, QGroupBox, QHBoxLayout, QLabel,
                               QLayout, QProgressBar, QPushButton, QStyle, QVBoxLayout, QWidget)

from transfer_gui.core.data import DatasetScan
from transfer_gui.core.errors import EmptyClassError
from transfer_gui.core.jobs.scan import scan_job

from transfer_gui.ui.data.class_table import ClassTable
from transfer_gui.ui.data.doctor_button import DoctorButton
from transfer_gui.ui.data.dataset_summary import DatasetSummary
from transfer_gui.ui.data.recent_folders import RecentFolders
from transfer_gui.ui.data.skipped_files import SkippedFiles, relative_to
from transfer_gui.ui.error_dialog import plain_message
from transfer_gui.ui.guide.first_run_hint import FirstRunHint
from transfer_gui.ui.state import AppState
from transfer_gui.ui.thumbnails import ThumbnailStrip
from transfer_gui.ui.workers import JobHost
from transfer_gui.ui.wizard_page import PAGE_MARGINS, WizardPage, heading

THUMB_COUNT, THUMB_SIZE = 12, 96
STYLE = """
QLabel#status { color: palette(dark); }
QLabel#path, QGroupBox { font-weight: 600; }
QLabel#error { background: #fdecea; color: #7a1f1f; border: 1px solid #efb3ae;
               border-radius: 6px; padding: 10px 12px; }
QLabel#warnings { background: #fff7dc; color: #5c4600; border: 1px solid #ecd58c;
                  border-radius: 6px; padding: 8px 10px; }
QLabel#dropzone { border: 2px dashed palette(mid); border-radius: 12px; color: palette(dark);
                  font-size: 12pt; padding: 48px; }
"""


def local_paths(mime: QMimeData) -> list[str]:
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


def box(layout: QBoxLayout, *items, margins: Optional[int] = None) -> QBoxLayout:
    """Fill a box layout: widgets, layouts, (item, stretch) pairs and ints (stretches)."""
    if margins is not None:
        layout.setContentsMargins(margins, margins, margins, margins)
    for item in items:
        item, stretch = item if isinstance(item, tuple) else (item, 0)
        if isinstance(item, int):
            layout.addStretch(item)
        elif isinstance(item, QLayout):
            layout.addLayout(item, stretch)
        else:
            layout.addWidget(item, stretch)
    return layout


class DataPage(WizardPage, JobHost):
    def __init__(self, state: AppState, settings: QSettings, parent: Optional[QWidget] = None):
        super().__init__(state, parent)
        self.settings = settings
        self._folder: Optional[str] = None
        self._scan: Optional[DatasetScan] = None  # the scan shown on the page
        self._error, self._scanning = "", False
        self._leave_out_empty = False  # scan without class folders that hold no usable image
        self._empty_classes: list[str] = []  # the empty classes of the last scan that failed
        self._scan_runner = self.make_runner(
            progress=lambda p: self.progress_label.setText(p.message), finished=self._on_scanned,
            failed=self._on_failed, cancelled=self._on_cancelled)
        self._build()
        self.setAcceptDrops(True)
        self._show_state()
        self._blocker = self.blocker()
        state.datasetChanged.connect(self._update_blocker)
        state.correctionsChanged.connect(self._show_corrected)

    def title(self) -> str:
        return self.tr("Data")

    def _build(self) -> None:
        tr = self.tr
        self.setStyleSheet(STYLE)
        self.choose_button = QPushButton(
            tr("&Choose folder…"), clicked=self.choose_folder,
            icon=self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon),
            toolTip=tr("Choose the folder that holds your class folders"))
        self.recent_combo = RecentFolders(self.settings)
        self.recent_combo.folderChosen.connect(self.open_folder)
        self.status_label = QLabel(objectName="status", wordWrap=True)
        self.progress_bar = QProgressBar(textVisible=False, minimum=0, maximum=0,  # busy
                                         maximumWidth=200,
                                         toolTip=tr("Checking every image in the folder"))
        self.progress_label = QLabel()
        self.cancel_button = QPushButton(tr("C&ancel scan"), clicked=self._scan_runner.cancel,
                                         toolTip=tr("Stop scanning this folder"))
        self.rescan_button = QPushButton(
            tr("&Rescan"), clicked=self.rescan, enabled=False,
            icon=self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload),
            toolTip=tr("Scan the same folder again, after adding, removing or fixing images"))
        self.leave_out_button = QPushButton(
            tr("&Leave out empty classes"), clicked=self.leave_out_empty_classes,
            toolTip=tr("Scan again without the class folders that hold no usable image"))
        self.doctor_button = DoctorButton(self.state)
        QShortcut(QKeySequence("Ctrl+Shift+D"), self, activated=self.doctor_button.click,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.busy = QWidget()
        box(QHBoxLayout(self.busy), self.progress_bar, self.progress_label, self.cancel_button, 1,
            margins=0)
        self.error_label = QLabel(objectName="error", wordWrap=True,
                                  textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_box = QWidget()
        box(QHBoxLayout(self.error_box), (self.error_label, 1), self.leave_out_button, margins=0)
        self.drop_hint = QLabel(tr("Drop a dataset folder here\nor click “Choose folder…”"),
                                objectName="dropzone", alignment=Qt.AlignmentFlag.AlignCenter)
        self.results = self._build_results()
        self.first_run_hint = FirstRunHint(self.settings)
        root = box(QVBoxLayout(self),
                   heading(tr("Choose your images")), self.first_run_hint,
                   QLabel(tr("Pick a folder that holds one subfolder of images per class (for "
                             "example cats/ and dogs/), or one with train/ and val/ folders that "
                             "each hold the class folders. You can also drop a folder onto this "
                             "page."), wordWrap=True),
                   box(QHBoxLayout(), self.choose_button, self.recent_combo, self.rescan_button,
                       self.doctor_button, (self.status_label, 1)),
                   self.busy, self.error_box, self.drop_hint, (self.results, 1), 0)
        root.setContentsMargins(*PAGE_MARGINS)
        root.setSpacing(12)

    def _build_results(self) -> QWidget:
        """Classes on the left, taking the height; the summary, warnings and skipped files
        beside them; example thumbnails of the selected class below."""
        tr = self.tr
        self.summary = DatasetSummary()
        self.folder_label, self.layout_label = self.summary.folder_label, self.summary.layout_label
        self.class_table = ClassTable()
        self.class_table.classSelected.connect(self._on_class_selected)
        self.warnings_label = QLabel(objectName="warnings", wordWrap=True)
        self.warnings_group = QGroupBox(tr("Warnings"))
        box(QVBoxLayout(self.warnings_group), self.warnings_label)
        self.skipped_group = SkippedFiles()
        self.skipped_table = self.skipped_group.table
        self.thumb_strip = ThumbnailStrip(THUMB_SIZE,
                                          toolTip=tr("Example images of the selected class"))
        self.thumbnails = self.thumb_strip.loader
        self.thumbs_group = QGroupBox(tr("Examples"))
        box(QVBoxLayout(self.thumbs_group), self.thumb_strip)
        classes = QGroupBox(tr("Classes"))
        box(QVBoxLayout(classes), self.class_table)
        results = QWidget()
        side = box(QVBoxLayout(), self.summary, self.warnings_group, (self.skipped_group, 1), 0)
        box(QVBoxLayout(results), (box(QHBoxLayout(), (classes, 3), (side, 2)), 1),
            self.thumbs_group, margins=0).setSpacing(12)
        return results

    @property
    def scanning(self) -> bool:
        """True while a folder is being scanned."""
        return self._scanning

    def open_folder(self, path: str, leave_out_empty: bool = False) -> None:
        """Scan `path` (cancelling a running scan); the state's dataset is set when it is done.
        With `leave_out_empty`, class folders without a usable image are left out."""
        self._folder = os.path.abspath(os.path.expanduser(path))
        self._leave_out_empty = leave_out_empty
        self._scan, self._error, self._scanning, self._empty_classes = None, "", True, []
        self.status_label.clear()
        self.thumbnails.cancel()
        self._scan_runner.start(scan_job, self._folder, leave_out_empty)
        self.progress_label.setText(self.tr("Scanning {0}…").format(self._folder))
        self.state.set_dataset(self._folder, None)
        self._show_state()

    def rescan(self) -> None:
        """Scan the open folder again (leaving out empty classes if the user chose to)."""
        if self._folder:
            self.open_folder(self._folder, self._leave_out_empty)

    def leave_out_empty_classes(self) -> None:
        """Scan the open folder again without its empty class folders."""
        if self._folder:
            self.open_folder(self._folder, leave_out_empty=True)

    def choose_folder(self) -> None:
        """Ask for a folder (starting in the last one) and open it."""
        recent = self.recent_combo.folders
        start = self._folder or (recent[0] if recent else QDir.homePath())
        folder = QFileDialog.getExistingDirectory(self, self.tr("Choose the dataset folder"), start)
        if folder:
            self.open_folder(folder)

    def dragEnterEvent(self, event) -> None:
        if any(os.path.isdir(p) for p in local_paths(event.mimeData())):
            event.acceptProposedAction()
        else:  # a file, or nothing local: refused
            event.ignore()

    def dropEvent(self, event) -> None:
        paths = local_paths(event.mimeData())
        folders = [p for p in paths if os.path.isdir(p)]
        if folders:
            event.acceptProposedAction()
            self.open_folder(folders[0])
        else:
            event.ignore()
            name = os.path.basename(paths[0]) if paths else ""
            self.status_label.setText(self.tr("“{0}” is not a folder: drop the folder that holds "
                                              "the class folders.").format(name))

    @Slot(object)
    def _on_scanned(self, scan: DatasetScan | EmptyClassError) -> None:
        if isinstance(scan, EmptyClassError):
            self._empty_classes = scan.classes
            self._on_failed(str(scan), "")
            return
        self._scanning = False
        self.recent_combo.remember(self._folder)
        self.state.set_dataset(self._folder, scan)
        self._show_scan(self.state.dataset)  # with the user's corrections
        self._show_state()

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        plain = plain_message(message)  # raw error codes go to the tooltip, not the page
        self._scanning, self._error = False, plain[:1].upper() + plain[1:]
        self.error_label.setText(self._error)
        self.error_label.setToolTip("\n\n".join(p for p in (message, details) if p))
        self.state.set_dataset(self._folder, None)
        self._show_state()

    @Slot(object)
    def _on_cancelled(self, _result) -> None:
        self._scanning = False
        self.status_label.setText(self.tr("Scan cancelled."))
        self._update_blocker()
        self._show_state()

    def _show_state(self) -> None:
        showing = self._scan is not None and not self._scanning
        self.busy.setVisible(self._scanning)
        self.error_box.setVisible(bool(self._error) and not self._scanning)
        self.error_label.setVisible(bool(self._error) and not self._scanning)
        self.leave_out_button.setVisible(bool(self._empty_classes))
        self.leave_out_button.setToolTip(self.tr(
            "Scan again without the class folders that hold no usable image: {0}").format(
            ", ".join(self._empty_classes)))
        self.rescan_button.setEnabled(bool(self._folder) and not self._scanning)
        self.results.setVisible(showing)
        self.drop_hint.setVisible(not showing and not self._scanning)
        self.layout().setStretch(self.layout().count() - 1, 0 if showing else 1)

    def _show_scan(self, scan: DatasetScan) -> None:
        self._scan = scan
        self.summary.show_scan(scan)
        self.warnings_label.setText("\n".join(f"•  {w[:1].upper()}{w[1:]}"
                                              for w in scan.warnings))
        self.warnings_group.setVisible(bool(scan.warnings))
        self.skipped_group.show_scan(scan)
        self.class_table.show_scan(scan)

    def _show_corrected(self) -> None:
        if self._scan is not None and self.state.dataset is not None and not self._scanning:
            self._show_scan(self.state.dataset)

    def _on_class_selected(self, label: int, name: str) -> None:
        if self._scan is None:
            return
        paths = [s.path for s in self._scan.samples if s.label == label][:THUMB_COUNT]
        self.thumbs_group.setTitle(self.tr("Examples of “{0}”").format(name))
        self.thumb_strip.show_images(paths, [relative_to(p, self._scan.root) for p in paths])

    def blocker(self) -> str:
        if self.state.dataset is not None:
            return ""
        if self._scanning:
            return self.tr("Scanning the folder…")
        return self._error or self.tr("Choose a folder with one subfolder per class.")

    def _update_blocker(self) -> None:
        if (blocker := self.blocker()) != self._blocker:
            self._blocker = blocker
            self.completeChanged.emit()

    def shutdown(self) -> None:
        """Cancel the scan and the thumbnails and wait for both threads."""
        self._scan_runner.cancel()
        self.thumbnails.cancel()
        self.doctor_button.shutdown()
        self._scan_runner.shutdown()
        self.thumbnails.shutdown()
