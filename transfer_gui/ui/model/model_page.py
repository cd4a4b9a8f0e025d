"""Step 2: choose a pretrained backbone and a transfer mode."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QFileDialog, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QMessageBox, QProgressBar,
                               QPushButton, QRadioButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from transfer_gui.core.jobs import Progress
from transfer_gui.core.jobs.weights import download_job, import_job
from transfer_gui.core.models import (BUNDLED, CACHED, DEFAULT_BACKBONE, all_backbones,
                                      availability, get_backbone)
from transfer_gui.core.training.config import FEATURE_EXTRACTION, FINE_TUNING, FROM_SCRATCH

from transfer_gui.ui.state import AppState
from transfer_gui.ui.workers import JobHost
from transfer_gui.ui.wizard_page import WizardPage, heading

from .which_backbone_button import WhichBackboneButton


class ModelPage(WizardPage, JobHost):
    COLUMNS = ("Backbone", "Parameters", "Input", "ImageNet top-1", "Relative speed", "Weights")

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(state, parent)
        self.runner = self.make_runner(
            progress=self._on_download_progress, finished=self._on_weights_ready,
            failed=self._on_weights_failed, cancelled=lambda _: self._set_busy(False))
        self.specs = all_backbones()
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Choose a model")))

        box = QGroupBox(self.tr("Pretrained backbone"))
        box_layout = QVBoxLayout(box)
        intro = QLabel(self.tr(
            "The backbone is a network already trained on a million ImageNet photos; it turns each "
            "image into features your classifier learns from. Smaller and faster is often enough."))
        intro.setWordWrap(True)
        self.which_button = WhichBackboneButton(state, self)
        top = QHBoxLayout()
        top.addWidget(intro, 1)
        top.addWidget(self.which_button, 0, Qt.AlignmentFlag.AlignTop)
        box_layout.addLayout(top)
        self.table = QTableWidget(len(self.specs), len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in self.COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip(self.tr("Pick the backbone to start from. Relative speed compares "
                                      "the work per image with EfficientNet-Lite0."))
        self.table.itemSelectionChanged.connect(self._on_selection)
        box_layout.addWidget(self.table)
        buttons = QHBoxLayout()
        self.download_button = QPushButton(self.tr("&Download weights"))
        self.download_button.setToolTip(self.tr("Download the selected backbone's ImageNet "
                                                "weights (needs internet; done once)."))
        self.download_button.clicked.connect(self.download)
        self.import_button = QPushButton(self.tr("&Import weights file…"))
        self.import_button.setToolTip(self.tr("Use a weights file (.pth) downloaded on another "
                                              "computer for the selected backbone."))
        self.import_button.clicked.connect(self.choose_import_file)
        self.cancel_button = QPushButton(self.tr("Cancel download"))
        self.cancel_button.setToolTip(self.tr("Stop the download."))
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.progress = QProgressBar()
        self.progress.setToolTip(self.tr("Download progress"))
        self.status = QLabel()
        self.status.setWordWrap(True)
        for w in (self.download_button, self.import_button, self.cancel_button):
            buttons.addWidget(w)
        buttons.addWidget(self.progress, 1)
        box_layout.addLayout(buttons)
        box_layout.addWidget(self.status)
        layout.addWidget(box, 3)

        modes = QGroupBox(self.tr("How to use it"))
        modes_layout = QVBoxLayout(modes)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        texts = {
            FEATURE_EXTRACTION: (self.tr("F&eature extraction (recommended first)"), self.tr(
                "The backbone stays as it is; only a new final layer learns your classes. Fast, "
                "even on a laptop, and works with few images (tens per class). Try this first.")),
            FINE_TUNING: (self.tr("Fine-&tuning"), self.tr(
                "The backbone's layers adapt to your images too, slowly. Usually a few points "
                "more accurate when your images look unlike everyday photos (microscopy, X-ray, "
                "inspection) and you have hundreds per class. Much slower without a GPU.")),
            FROM_SCRATCH: (self.tr("From &scratch (baseline)"), self.tr(
                "The same network with random weights, trained only on your images. Needs far "
                "more images and time; use it to see how much the pretrained start helps.")),
        }
        for mode, (title, text) in texts.items():
            button = QRadioButton(title)
            button.setToolTip(text)
            explanation = QLabel(text)
            explanation.setWordWrap(True)
            explanation.setIndent(24)
            self.mode_group.addButton(button)
            self.mode_buttons[mode] = button
            button.toggled.connect(lambda on, m=mode: on and self._choose_mode(m))
            modes_layout.addWidget(button)
            modes_layout.addWidget(explanation)
        layout.addWidget(modes, 2)

        self.refresh()
        self.mode_buttons[state.mode].setChecked(True)
        self._select(state.backbone)
        self._set_busy(False)
        state.choicesChanged.connect(self._sync_from_state)

    def title(self) -> str:
        return self.tr("Model")

    def refresh(self) -> None:
        """Fill the table, reading each backbone's weight availability again."""
        lite0 = get_backbone(DEFAULT_BACKBONE).gflops
        names = {BUNDLED: self.tr("bundled"), CACHED: self.tr("downloaded")}
        for row, spec in enumerate(self.specs):
            status = availability(spec)
            needed = (self.tr("download needed ({0} MB)").format(f"{spec.download_mb:.0f}")
                      if spec.download_mb else self.tr("download needed"))
            cells = (spec.display_name, f"{spec.num_params / 1e6:.1f} M",
                     f"{spec.preprocessing.input_size} px", f"{spec.imagenet_top1:.1f}%",
                     f"{lite0 / spec.gflops:.2f}×", names.get(status, needed))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, spec.name)
                if col in (1, 2, 3, 4):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self._update_buttons()
        self.completeChanged.emit()

    def _select(self, name: str) -> None:
        for row, spec in enumerate(self.specs):
            if spec.name == name:
                self.table.selectRow(row)

    def selected_spec(self):
        return get_backbone(self.state.backbone)

    def _on_selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.state.set_backbone(self.specs[rows[0].row()].name)
        self._update_buttons()
        self.completeChanged.emit()

    def _choose_mode(self, mode: str) -> None:
        self.state.set_mode(mode)
        self.completeChanged.emit()

    def _sync_from_state(self) -> None:
        button = self.mode_buttons[self.state.mode]
        if not button.isChecked():
            button.setChecked(True)
        rows = self.table.selectionModel().selectedRows()
        if not rows or self.specs[rows[0].row()].name != self.state.backbone:
            self._select(self.state.backbone)  # chosen elsewhere: "Which backbone?", a project

    def _needs_weights(self) -> bool:
        return self.state.mode != FROM_SCRATCH

    def _update_buttons(self) -> None:
        spec = self.selected_spec()
        missing = availability(spec) not in (BUNDLED, CACHED)
        busy = self.runner.is_running()
        self.download_button.setEnabled(missing and not busy)
        self.import_button.setEnabled(spec.weights_url is not None and not busy)
        self.status.setText(self.tr("{name}: weights are ready.").format(name=spec.display_name)
                            if not missing else self.tr(
            "{name}: its ImageNet weights are not on this computer yet. Download them, or import "
            "the file {file} if you downloaded it elsewhere.").format(
                name=spec.display_name, file=spec.weights_filename))

    def blocker(self) -> str:
        spec = self.selected_spec()
        if self.runner.is_running():
            return self.tr("Downloading weights…")
        if self._needs_weights() and availability(spec) not in (BUNDLED, CACHED):
            return self.tr("Download or import the weights of {name} first, or choose another "
                           "backbone.").format(name=spec.display_name)
        return ""

    def download(self) -> None:
        self._set_busy(True)
        self.runner.start(download_job, self.state.backbone)

    def choose_import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Import weights file"), "",
                                              self.tr("PyTorch weights (*.pth *.pt)"))
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        self._set_busy(True)
        self.runner.start(import_job, self.state.backbone, path)

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.progress.setRange(0, 0 if busy else 1)
        self._update_buttons()
        self.completeChanged.emit()

    def _on_download_progress(self, progress: Progress) -> None:
        if progress.fraction is not None:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(progress.fraction * 1000))
        self.progress.setFormat(progress.message)

    def _on_weights_ready(self, path: str) -> None:
        self._set_busy(False)
        self.refresh()

    def _on_weights_failed(self, message: str, details: str) -> None:
        self._set_busy(False)
        self.refresh()
        from transfer_gui.ui.error_dialog import show_error

        show_error(self, self.tr("Weights"), message, details, icon=QMessageBox.Icon.Warning)

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.which_button.shutdown()
