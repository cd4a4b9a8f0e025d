"""Step 3: training settings, basic and advanced, starting from the chosen mode's defaults."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from transfer_gui.core.heads import L2_GRID
from transfer_gui.core.training.config import FEATURE_EXTRACTION, FINE_TUNING, MODES

from transfer_gui.ui.state import AppState
from transfer_gui.ui.wizard_page import WizardPage, heading
from .log_spin_box import LogSpinBox


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

        basic = QGroupBox(self.tr("Basic"))
        form = QFormLayout(basic)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.epochs = self._spin("epochs", 1, 1000, "")  # its tooltip follows the mode (load)
        self.learning_rate = self._log_double("learning_rate", 1e-6, 1.0, self.tr(
            "Step size of learning. Too high: training jumps around; too low: it crawls. "
            "The arrows multiply or divide it by about 1.25."))
        self.augmentation = self._combo("augmentation", [
            ("none", self.tr("None")), ("light", self.tr("Light: crops and flips")),
            ("strong", self.tr("Strong: crops, flips and colour changes"))], self.tr(
            "Random changes to training images so the model learns what matters, not the exact "
            "pixels. Helps most with few images."))
        self.batch_size = self._spin("batch_size", 1, 1024, self.tr(
            "Images per learning step. Lower it if you run out of memory."))
        form.addRow(self.tr("&Epochs:"), self.epochs)
        form.addRow(self.tr("&Learning rate:"), self.learning_rate)
        form.addRow(self.tr("&Augmentation:"), self.augmentation)
        form.addRow(self.tr("Batch si&ze:"), self.batch_size)
        self.basic_form = form
        layout.addWidget(basic)

        self.show_advanced = QCheckBox(self.tr("Show ad&vanced settings"))
        self.show_advanced.setToolTip(self.tr("Optimizer, regularisation, early stopping, "
                                              "class weights, seed and device."))
        layout.addWidget(self.show_advanced)
        self.advanced = QGroupBox(self.tr("Advanced"))
        adv = QFormLayout(self.advanced)
        adv.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.optimizer = self._combo("optimizer", [("adamw", "AdamW"), ("sgd", "SGD (momentum)"),
                                                   ("rmsprop", "RMSprop")],
                                     self.tr("The update rule. AdamW is a safe default."))
        self.weight_decay = self._double("weight_decay", 0.0, 1.0, 5, self.tr(
            "Pulls weights towards zero to reduce overfitting."))
        self.label_smoothing = self._double("label_smoothing", 0.0, 0.9, 2, self.tr(
            "Makes the model less over-confident by softening the target labels."))
        self.patience = self._spin("early_stopping_patience", 0, 1000, self.tr(
            "Stop when the validation loss has not improved for this many epochs (0: never)."))
        self.class_weights = self._combo("class_weights", [
            ("auto", self.tr("Balance rare classes")), ("none", self.tr("Off"))], self.tr(
            "Weigh errors on rare classes more, so an imbalanced dataset is not just "
            "'predict the big class'."))
        self.seed = self._spin("seed", 0, 2**31 - 1, self.tr(
            "Same seed, same data, same settings: the same result on the CPU."))
        self.device = self._combo("device", detected_devices(), self.tr(
            "Where training runs. Automatic picks a GPU when there is one."))
        self.mixed_precision = QCheckBox(self.tr("Mixed precision on CUDA"))
        self.mixed_precision.setToolTip(self.tr("Faster training on NVIDIA GPUs with 16-bit "
                                                "arithmetic where it is safe."))
        self.mixed_precision.toggled.connect(lambda on: self._store("mixed_precision", on))
        self._setters["mixed_precision"] = self.mixed_precision.setChecked
        self.views_tip = self.tr(
            "Feature extraction with augmentation: augmented copies of each training image "
            "whose features are computed once and reused.")
        self.views = self._spin("feature_views", 0, 32, self.views_tip)
        self.unfreeze = self._spin("unfreeze_stages", 0, 64, self.tr(
            "Fine-tuning: how many of the backbone's top stages learn; 0 trains only the new "
            "layer, All stages trains the whole backbone."), none_text=self.tr("All stages"))
        self.warmup = self._spin("warmup_epochs", 0, 100, self.tr(
            "Fine-tuning: epochs that train only the new layer before the backbone joins in."))
        self.backbone_lr = self._double("backbone_lr_factor", 0.001, 1.0, 3, self.tr(
            "Fine-tuning: the backbone learns this many times slower than the new layer."))
        self.batch_norm = self._combo("batch_norm", [
            ("frozen", self.tr("Keep pretrained statistics (recommended)")),
            ("reestimate", self.tr("Re-estimate after each epoch")),
            ("train", self.tr("Train normally"))], self.tr(
            "Fine-tuning: whether the backbone's batch-norm layers keep the averages they "
            "learned in pretraining, recompute them on your images, or update them as they train."))
        self.stay_close = self._double("stay_close", 0.0, 10.0, 4, self.tr(
            "Fine-tuning: how strongly the backbone is pulled back towards its pretrained weights, "
            "which helps with few images (Off: not at all)."), none_text=self.tr("Off"))
        self.head_l2 = self._l2_combo()
        rows = [(self.tr("&Optimizer:"), self.optimizer), (self.tr("&Weight decay:"), self.weight_decay),
                (self.tr("Label s&moothing:"), self.label_smoothing),
                (self.tr("Early stopping &patience:"), self.patience),
                (self.tr("&Class weights:"), self.class_weights), (self.tr("Seed:"), self.seed),
                (self.tr("&Device:"), self.device), ("", self.mixed_precision)]
        for label, widget in rows:
            adv.addRow(label, widget)
        self.mode_rows = {
            FEATURE_EXTRACTION: [(self.tr("Augmented views:"), self.views)],
            FINE_TUNING: [(self.tr("Unfreeze &top stages:"), self.unfreeze),
                          (self.tr("Warm-&up epochs:"), self.warmup),
                          (self.tr("Bac&kbone learning-rate factor:"), self.backbone_lr),
                          (self.tr("Batch norm:"), self.batch_norm),
                          (self.tr("Sta&y close to pretrained weights:"), self.stay_close)],
        }
        for label, widget in [r for rows in self.mode_rows.values() for r in rows]:
            adv.addRow(label, widget)
        adv.addRow(self.tr("Re&gularisation:"), self.head_l2)
        if storage is not None:
            adv.addRow(storage)
        self.adv_form = adv
        # Rows shown only in some modes (a mode_rows row is shown in its mode only).
        self.shown_in: dict[QWidget, tuple[str, ...]] = {
            widget: (mode,) for mode, rows in self.mode_rows.items() for _, widget in rows}
        self.shown_in[self.head_l2] = (FEATURE_EXTRACTION, FINE_TUNING)  # the probe fits in both
        # Feature extraction fits its layer with L-BFGS on all features at once: these do not apply.
        for widget in (self.learning_rate, self.batch_size, self.optimizer, self.weight_decay,
                       self.label_smoothing, self.patience):
            self.shown_in[widget] = tuple(m for m in MODES if m != FEATURE_EXTRACTION)
        layout.addWidget(self.advanced)
        self.show_advanced.toggled.connect(self.advanced.setVisible)
        self.advanced.setVisible(False)

        buttons = QHBoxLayout()
        self.restore = QPushButton(self.tr("&Restore defaults"))
        self.restore.setToolTip(self.tr("Back to the recommended settings for this mode."))
        self.restore.clicked.connect(self.restore_defaults)
        buttons.addStretch(1)
        buttons.addWidget(self.restore)
        layout.addLayout(buttons)
        layout.addStretch(1)
        state.choicesChanged.connect(self.load)
        self.load()

    def title(self) -> str:
        return self.tr("Settings")

    # -- widget factories: each stores its value in state.settings when the user changes it --
    def _store(self, name: str, value: Any) -> None:
        if not self._loading:
            self.state.set_setting(name, value)

    def _spin(self, name: str, low: int, high: int, tip: str,
              none_text: Optional[str] = None) -> QSpinBox:
        """A whole-number box; with `none_text`, one step below `low` shows that text and means
        None (unfreeze_stages: None is "all stages", while 0 is "only the new layer")."""
        box = QSpinBox()
        box.setMinimumWidth(220)
        unset = low - 1 if none_text else None
        box.setRange(low if unset is None else unset, high)
        if none_text:
            box.setSpecialValueText(none_text)
        box.setToolTip(tip)
        box.valueChanged.connect(lambda v: self._store(name, None if v == unset else v))
        self._setters[name] = lambda v: box.setValue(
            (low if unset is None else unset) if v is None else int(v))
        return box

    def _double(self, name: str, low: float, high: float, decimals: int, tip: str,
                none_text: Optional[str] = None) -> QDoubleSpinBox:
        """A decimal box; `none_text` is shown at `low` (stay_close: 0 shows "Off")."""
        box = QDoubleSpinBox()
        box.setMinimumWidth(220)
        box.setRange(low, high)
        box.setDecimals(decimals)
        box.setSingleStep(10 ** -(decimals - 1))
        if none_text:
            box.setSpecialValueText(none_text)
        box.setToolTip(tip)
        box.valueChanged.connect(lambda v: self._store(name, v))
        self._setters[name] = lambda v: box.setValue(float(v))
        return box

    def _log_double(self, name: str, low: float, high: float, tip: str) -> LogSpinBox:
        """A positive decimal box whose arrows step by about x1.25 (see LogSpinBox)."""
        box = LogSpinBox(low, high)
        box.setMinimumWidth(220)
        box.setToolTip(tip)
        box.valueChanged.connect(lambda v: self._store(name, v))
        self._setters[name] = lambda v: box.setValue(float(v))
        return box

    def _l2_combo(self) -> QComboBox:
        """head_l2: Automatic (None, chosen by cross-validation) or one of the strengths that
        cross-validation tries; a saved value not among them is added to the list."""
        box = QComboBox()
        box.setMinimumWidth(220)
        box.addItem(self.tr("Automatic (chosen by cross-validation)"), None)
        for i, value in enumerate(L2_GRID):
            hint = (self.tr(" (strongest)") if i == 0 else
                    self.tr(" (weakest)") if i == len(L2_GRID) - 1 else "")
            box.addItem(f"{value:g}{hint}", value)
        box.setToolTip(self.tr(
            "How strongly the new layer is kept simple, which guards against learning noise; "
            "Automatic tries each strength on parts of the training images and keeps the best."))
        box.currentIndexChanged.connect(lambda i: self._store("head_l2", box.itemData(i)))

        def show(value: Optional[float]) -> None:
            if value is None:
                box.setCurrentIndex(0)
                return
            index = next((i for i in range(1, box.count())
                          if abs(box.itemData(i) - value) <= 1e-9 * value), -1)
            if index < 0:
                box.addItem(f"{value:g}", float(value))
                index = box.count() - 1
            box.setCurrentIndex(index)

        self._setters["head_l2"] = show
        return box

    def _combo(self, name: str, choices: list[tuple[str, str]], tip: str) -> QComboBox:
        box = QComboBox()
        box.setMinimumWidth(220)
        for value, label in choices:
            box.addItem(label, value)
        box.setToolTip(tip)
        box.currentIndexChanged.connect(lambda i: self._store(name, box.itemData(i)))
        self._setters[name] = lambda v: box.setCurrentIndex(max(0, box.findData(v)))
        return box

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
            basic = widget in (self.learning_rate, self.batch_size)
            (self.basic_form if basic else self.adv_form).setRowVisible(widget,
                                                                         self.state.mode in modes)
        self.adv_form.setRowVisible(self.mixed_precision, cuda_available())
        augmented = config.augmentation != "none"
        self.views.setEnabled(augmented)
        label = self.adv_form.labelForField(self.views)
        if label is not None:
            label.setEnabled(augmented)
        self.views.setToolTip(self.views_tip if augmented else self.views_tip + " " + self.tr(
            "Choose an augmentation (Basic settings) to use them."))
        self.epochs.setToolTip(self.tr(
            "At most this many rounds of 10 fitting steps; fitting stops sooner once it has "
            "settled.") if self.state.mode == FEATURE_EXTRACTION else self.tr(
            "How many passes over the training images, at most. Early stopping may end sooner."))
        names = {FEATURE_EXTRACTION: self.tr("feature extraction"),
                 FINE_TUNING: self.tr("fine-tuning")}
        self.intro.setText(self.tr(
            "Recommended settings for {mode} are filled in. Change them only if you have a "
            "reason; Restore defaults brings them back.").format(
                mode=names.get(self.state.mode, self.tr("training from scratch"))))

    def restore_defaults(self) -> None:
        self.state.settings = {}
        self.state.choicesChanged.emit()

    def blocker(self) -> str:
        try:
            if self.state.data_dir:
                self.state.config()
        except Exception as exc:
            return str(exc)
        return ""


