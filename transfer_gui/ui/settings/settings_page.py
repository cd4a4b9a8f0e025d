"""Step 3: training settings, basic and advanced, starting from the chosen mode's defaults."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QPushButton, QVBoxLayout, QWidget)

from transfer_gui.core.training.config import FEATURE_EXTRACTION, FINE_TUNING, MODES
from transfer_gui.core.training.options import OPTION_BY_NAME, OPTIONS, Option

from transfer_gui.ui.state import AppState
from transfer_gui.ui.wizard_page import WizardPage, heading
from .auto_settings_dialog import AutoSettingsDialog, describe_record
from .option_rows import make_control, translated

# The page's attribute for an option's control where it is shorter than the option's name.
SHORT_NAMES = {"early_stopping_patience": "patience", "feature_views": "views",
               "unfreeze_stages": "unfreeze", "warmup_epochs": "warmup",
               "backbone_lr_factor": "backbone_lr"}


def cuda_available() -> bool:
    """Whether an NVIDIA GPU can train here (mixed precision only matters there)."""
    return torch.cuda.is_available()


def detected_devices() -> list[tuple[str, str]]:
    """(config value, label) for the device choice, listing what this computer has."""
    devices = []
    if cuda_available():
        devices.append(("cuda", f"CUDA GPU: {torch.cuda.get_device_name(0)}"))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append(("mps", "Apple GPU (MPS)"))
    devices.append(("cpu", "CPU"))
    return [("auto", f"Automatic ({devices[0][1]})"), *devices]


class SettingsPage(WizardPage):
    def __init__(self, state: AppState, parent: Optional[QWidget] = None,
                 storage: Optional[QWidget] = None) -> None:
        """`storage`: rows about files on this computer (settings/storage_rows.py), shown with
        the advanced settings."""
        super().__init__(state, parent)
        self._loading = False
        self._setters: dict[str, Callable[[Any], None]] = {}
        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Training settings")))
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        self.searched_note = QLabel(wordWrap=True, objectName="searchedNote")
        layout.addWidget(self.searched_note)

        basic = QGroupBox(self.tr("Basic"))
        self.basic_form = QFormLayout(basic)
        layout.addWidget(basic)
        self.show_advanced = QCheckBox(self.tr("Show ad&vanced settings"))
        self.show_advanced.setToolTip(self.tr("Optimizer, regularisation, early stopping, "
                                              "class weights, seed and device."))
        layout.addWidget(self.show_advanced)
        self.advanced = QGroupBox(self.tr("Advanced"))
        self.adv_form = QFormLayout(self.advanced)
        # One row per declared option (core/training/options.py), in their order; a row whose
        # option applies to some modes only is shown in those.
        self.controls: dict[str, QWidget] = {}
        self.form_of: dict[QWidget, QFormLayout] = {}
        self.shown_in: dict[QWidget, tuple[str, ...]] = {}
        for option in OPTIONS:
            if option.label:
                self._add_row(option)
        for form in (self.basic_form, self.adv_form):
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        if storage is not None:
            self.adv_form.addRow(storage)
        layout.addWidget(self.advanced)
        self.show_advanced.toggled.connect(self.advanced.setVisible)
        self.advanced.setVisible(False)

        buttons = QHBoxLayout()
        # No mnemonic: every letter of it is taken on this page (Tab reaches it).
        self.auto_button = QPushButton(self.tr("Find good settings for me…"))
        self.auto_button.clicked.connect(self.open_auto_settings)
        self.auto_dialog: Optional[AutoSettingsDialog] = None
        buttons.addWidget(self.auto_button)
        self.restore = QPushButton(self.tr("&Restore defaults"))
        self.restore.setToolTip(self.tr("Back to the recommended settings for this mode."))
        self.restore.clicked.connect(self.restore_defaults)
        buttons.addStretch(1)
        buttons.addWidget(self.restore)
        layout.addLayout(buttons)
        layout.addStretch(1)
        state.choicesChanged.connect(self.load)
        state.datasetChanged.connect(self._show_search)
        self.load()

    def title(self) -> str:
        return self.tr("Settings")

    # -- widget factories: each stores its value in state.settings when the user changes it --
    def _store(self, name: str, value: Any) -> None:
        if not self._loading:
            self.state.set_setting(name, value)

    def _add_row(self, option: Option) -> None:
        choices = detected_devices() if option.widget == "device" else None
        widget, setter = make_control(option, self._store, choices)
        self._setters[option.name] = setter
        self.controls[option.name] = widget
        setattr(self, SHORT_NAMES.get(option.name, option.name), widget)
        form = self.basic_form if option.basic else self.adv_form
        self.form_of[widget] = form
        if option.widget == "check":  # the box carries its own label
            form.addRow("", widget)
        else:
            form.addRow(translated(option.label), widget)
        if set(option.modes) != set(MODES):
            self.shown_in[widget] = option.modes

    def load(self) -> None:
        """Show the current mode's defaults with the user's overrides on top."""
        try:
            config = self.state.config() if self.state.data_dir else self.state.defaults()
        except Exception:
            config = self.state.defaults()
        self._loading = True
        try:
            for name, setter in self._setters.items():
                setter(getattr(config, name))
        finally:
            self._loading = False
        for widget, modes in self.shown_in.items():
            self.form_of[widget].setRowVisible(widget, self.state.mode in modes)
        self.adv_form.setRowVisible(self.mixed_precision, cuda_available())
        augmented = config.augmentation != "none"
        self.views.setEnabled(augmented)
        label = self.adv_form.labelForField(self.views)
        if label is not None:
            label.setEnabled(augmented)
        views_tip = translated(OPTION_BY_NAME["feature_views"].tooltip)
        self.views.setToolTip(views_tip if augmented else views_tip + " " + self.tr(
            "Choose an augmentation (Basic settings) to use them."))
        for name, widget in self.controls.items():  # the tooltips that differ by mode
            if OPTION_BY_NAME[name].mode_tooltips:
                widget.setToolTip(translated(OPTION_BY_NAME[name].tooltip_for(self.state.mode)))
        self._show_search()
        names = {FEATURE_EXTRACTION: self.tr("feature extraction"),
                 FINE_TUNING: self.tr("fine-tuning")}
        self.intro.setText(self.tr(
            "Recommended settings for {mode} are filled in. Change them only if you have a "
            "reason; Restore defaults brings them back.").format(
                mode=names.get(self.state.mode, self.tr("training from scratch"))))

    def _show_search(self) -> None:
        """The button's state, and which values a settings search chose."""
        ready = self.state.dataset is not None
        self.auto_button.setEnabled(ready)
        self.auto_button.setToolTip(self.tr(
            "Try settings on your pictures within a time you give and choose the best "
            "(feature extraction: seconds)") if ready else self.tr(
            "Choose a dataset on the Data page first: settings are tried on your pictures."))
        record = self.state.auto_settings()
        values = describe_record(record) if record else ""
        self.searched_note.setText(self.tr(
            "Chosen by “Find good settings”: {0}. Change any of them below if you like; Restore "
            "defaults forgets them.").format(values) if values else "")
        self.searched_note.setVisible(bool(values))

    def open_auto_settings(self) -> Optional[AutoSettingsDialog]:
        """Open the search window for the current dataset, backbone and mode."""
        if self.state.dataset is None:
            return None
        if self.auto_dialog is None:
            self.auto_dialog = AutoSettingsDialog(self.state, self.window())
        if not self.auto_dialog.is_running():
            self.auto_dialog.prepare()
        self.auto_dialog.show()
        self.auto_dialog.raise_()
        self.auto_dialog.activateWindow()
        return self.auto_dialog

    def shutdown(self) -> None:
        if self.auto_dialog is not None:
            self.auto_dialog.shutdown()
            self.auto_dialog.close()

    def restore_defaults(self) -> None:
        self.state.restore_defaults()

    def blocker(self) -> str:
        try:
            if self.state.data_dir:
                self.state.config()
        except Exception as exc:
            return str(exc)
        return ""


