"""Training options: one dataclass, with good defaults per transfer mode, that round-trips to JSON.

Torch-free on purpose (tests/test_startup.py): `transfer-gui train --help` reads its choices here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Optional

from ..errors import ConfigError

PROBE_ITERATIONS_PER_EPOCH = 10

SCHEMA_VERSION = 1

FEATURE_EXTRACTION = "feature_extraction"
FINE_TUNING = "fine_tuning"
FROM_SCRATCH = "from_scratch"
MODES = (FEATURE_EXTRACTION, FINE_TUNING, FROM_SCRATCH)
# What people read (plain English; the GUI translates them in ui/names.py).
MODE_NAMES = {FEATURE_EXTRACTION: "Feature extraction", FINE_TUNING: "Fine-tuning",
              FROM_SCRATCH: "From scratch"}
OPTIMIZERS = ("adamw", "sgd", "rmsprop")
AUGMENTATION_PRESETS = ("none", "light", "strong")  # recipes: core/inputs.py
# Batch-norm layers while fine-tuning: "frozen" keeps them in inference mode (running statistics
# fixed, their scale and shift still train), "reestimate" also recomputes the statistics over the
# training images after each epoch, "train" is ordinary training-mode batch norm. See
# training/batchnorm.py for the measurements behind the default.
BATCH_NORM_POLICIES = ("frozen", "reestimate", "train")
DEVICES = ("auto", "cuda", "mps", "cpu")
MAX_SEED = 2**32 - 1  # numpy's seeds stop here
# Each option's flag, allowed values and Settings row are declared in options.py.

# Settings that differ by mode; everything else has one default.
MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    # Only the head trains: a linear probe fitted by L-BFGS on features cached once; an epoch is
    # a round of PROBE_ITERATIONS_PER_EPOCH iterations over all of them, and the fit stops when
    # converged. Learning rate, batch size and optimizer do not apply.
    FEATURE_EXTRACTION: dict(epochs=30, batch_size=32, learning_rate=3e-3, weight_decay=1e-4,
                             augmentation="none", label_smoothing=0.0, early_stopping_patience=0),
    # LP-FT: the head starts as the fitted probe, then the pretrained backbone adapts slowly
    # (backbone_lr_factor) with batch norm frozen; the probe is kept if no epoch beats it. No
    # dropout: the probe was fitted without it, and dropping features under its (often large)
    # weights sent the training loss from 0.1-0.5 to 1-4 on the first batches (measured). No
    # label smoothing either: it fights the probe's confident logits (test 0.967 with 0.1 vs
    # 0.989 without, generated shapes, 3 epochs).
    FINE_TUNING: dict(epochs=10, batch_size=32, learning_rate=1e-3, weight_decay=1e-4,
                      augmentation="light", label_smoothing=0.0, early_stopping_patience=5,
                      warmup_epochs=0, batch_norm="frozen", dropout=0.0),
    # Random weights need more epochs, stronger augmentation and ordinary batch norm.
    FROM_SCRATCH: dict(epochs=30, batch_size=32, learning_rate=1e-3, weight_decay=0.05,
                       augmentation="strong", label_smoothing=0.1, early_stopping_patience=10,
                       batch_norm="train"),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to reproduce a training run.

    Attributes:
        data_dir: Dataset folder (one subfolder per class, optionally train/val/test).
        backbone: Registry name of the backbone.
        mode: feature_extraction, fine_tuning or from_scratch.
        epochs: Maximum number of epochs (early stopping may end sooner).
        batch_size: Images (or feature vectors) per optimisation step.
        learning_rate: Learning rate of the new head (and of everything, from scratch).
        backbone_lr_factor: Fine-tuning: backbone learning rate = learning_rate x this.
        unfreeze_stages: Fine-tuning: train the top N backbone stages (0: the head only);
            None trains all.
        warmup_epochs: Fine-tuning: epochs that train the head alone before unfreezing.
        optimizer: adamw, sgd (momentum 0.9, Nesterov) or rmsprop.
        weight_decay: Decoupled weight decay (AdamW) or L2 (SGD, RMSprop).
        label_smoothing: Cross-entropy label smoothing in [0, 1).
        augmentation: none, light or strong.
        feature_views: Feature extraction with augmentation: augmented views cached per image.
        batch_norm: Fine-tuning: frozen, reestimate or train (see BATCH_NORM_POLICIES).
        stay_close: Fine-tuning: strength of the pull towards the pretrained weights (L2-SP,
            alpha/2 x squared distance); 0 turns it off.
        head_l2: Feature extraction and the fine-tuning start: L2 strength of the linear probe;
            None chooses it by cross-validation on the training images.
        probe_start: Fine-tuning: start the head from the fitted linear probe (LP-FT) and keep
            the probe if no epoch beats it; False starts from a random head (for comparisons).
        class_weights: "auto" weighs the loss by inverse class frequency; "none" does not.
            "auto" is the default: on the benchmark sets (bench/README.md, including a 60/20/8
            imbalanced one) it scored exactly as "none" did, and it protects a small class's
            recall when the data is skewed; balanced accuracy is reported beside accuracy.
        early_stopping_patience: Epochs without validation-loss improvement before stopping;
            0 turns early stopping off.
        dropout: Dropout before the new head's linear layer.
        seed: Seed for initialisation, shuffling and augmentation.
        split_seed: Seed of the stratified split that makes missing val/test splits.
        val_fraction: Share of images carved out for validation when there is no val folder.
        leave_out_empty_classes: Scan without class folders that hold no usable image.
        test_fraction: Share carved out for test in a dataset with no split folders.
        device: auto (cuda > mps > cpu), cuda, mps or cpu.
        mixed_precision: float16 autocast on CUDA (ignored elsewhere).
        memory_budget_mb: Decoded images kept in memory up to this; the rest spill to disk.
        feature_cache_dir: Keep computed backbone features here, reused by later runs.
    """

    data_dir: str
    backbone: str = "efficientnet_lite0"
    mode: str = FEATURE_EXTRACTION
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 3e-3
    backbone_lr_factor: float = 0.1
    unfreeze_stages: Optional[int] = None
    warmup_epochs: int = 0
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    augmentation: str = "none"
    feature_views: int = 4
    batch_norm: str = "frozen"
    stay_close: float = 0.0
    head_l2: Optional[float] = None
    probe_start: bool = True
    class_weights: str = "auto"
    early_stopping_patience: int = 10
    dropout: float = 0.2
    seed: int = 0
    split_seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    leave_out_empty_classes: bool = False
    device: str = "auto"
    mixed_precision: bool = True
    memory_budget_mb: int = 1500
    feature_cache_dir: Optional[str] = None

    @classmethod
    def for_mode(cls, data_dir: str, mode: str = FEATURE_EXTRACTION, **overrides: Any) -> "TrainConfig":
        """The defaults for `mode`, with `overrides` (None values are ignored) applied on top."""
        if mode not in MODES:
            raise ConfigError(f"Unknown mode '{mode}'. Choose one of: {', '.join(MODES)}.")
        values = {**MODE_DEFAULTS[mode], **{k: v for k, v in overrides.items() if v is not None}}
        return cls(data_dir=data_dir, mode=mode, **values).validated()

    def validated(self) -> "TrainConfig":
        """Self, after checking every option; a ConfigError names the first bad one."""
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"Option '{name}' = {getattr(self, name)!r} is not allowed: {why}.")

        from .options import OPTIONS  # the options' declarations (they import this module)

        if self.mode not in MODES:
            raise bad("mode", "choose one of " + ", ".join(MODES))
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise bad(f.name, "give a finite number")
        for option in OPTIONS:
            value = getattr(self, option.name)
            if value is None and option.unset:
                continue
            if option.choices and value not in option.choices:
                raise bad(option.name, "choose one of " + ", ".join(option.choices))
            if option.range is not None and (value is None or value not in option.range):
                kind = "a whole number" if option.kind == "int" else "a number"
                unset = (f", or leave it unset ({option.unset_text.lower() or 'automatic'})"
                         if option.unset else "")
                raise bad(option.name, f"give {kind} {option.range.describe()}{unset}")
        if self.mode == FINE_TUNING and 0 < self.epochs <= self.warmup_epochs:
            raise bad("warmup_epochs", f"it must be less than the epochs ({self.epochs}), or the "
                      f"backbone never trains")
        if not self.val_fraction + self.test_fraction < 1:
            raise bad("val_fraction", "val and test fractions must sum below 1")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        version = data.get("schema_version", SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise ConfigError(f"This configuration was written by a newer version "
                              f"(schema {version}); update transfer_gui to read it.")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known}).validated()

    def with_changes(self, **changes: Any) -> "TrainConfig":
        return replace(self, **changes).validated()
