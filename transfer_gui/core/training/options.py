"""Every training option declared once: its command-line flag and help, its allowed values, how
the Settings page shows it and in which modes, and whether Compare modes lets it differ per mode.

`transfer-gui train`'s flags (cli.py), TrainConfig.validated(), the Settings page's rows
(ui/settings/option_rows.py) and Compare modes' shared options all read OPTIONS. Qt-free and
torch-free (`train --help` reads it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from .config import (AUGMENTATION_PRESETS, BATCH_NORM_POLICIES, DEVICES, FEATURE_EXTRACTION,
                     FINE_TUNING, FROM_SCRATCH, MAX_SEED, MODES, OPTIMIZERS)

TRAINED_BY_GRADIENT = (FINE_TUNING, FROM_SCRATCH)  # feature extraction fits by L-BFGS instead
CLASS_WEIGHTS = ("auto", "none")
# TrainConfig fields that are not options: chosen with their own flags and pages, or set by the
# program alone.
NOT_OPTIONS = {"data_dir": "the --data flag and the Data page",
               "backbone": "the --backbone flag and the Model page",
               "mode": "the --mode flag and the Model page",
               "memory_budget_mb": "internal: how much decoded image data stays in memory"}


@dataclass(frozen=True)
class Range:
    """Allowed numbers, both ends included unless open (an open end itself is not allowed)."""

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        """'from 1 to 10000', 'above 0, up to 10', 'at least 0 and below 1', 'above 0'."""
        low, high = _number(self.low), _number(self.high)
        if math.isinf(self.high):
            return f"above {low}" if self.low_open else f"from {low} up"
        if self.high_open:
            return f"{'above' if self.low_open else 'at least'} {low} and below {high}"
        return f"above {low}, up to {high}" if self.low_open else f"from {low} to {high}"


def _number(value: float) -> str:
    """4294967295, not 4.29497e+09; 0.001 as it is."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Option:
    """One TrainConfig field as people set it.

    Attributes:
        name: The TrainConfig field.
        flag: Its `transfer-gui train` flag (dest is `name`).
        help: The flag's help: plain words, one phrase (its range is added after it).
        kind: "int", "float", "choice", "flag" (a switch storing `flag_value`) or "folder".
        choices: The allowed values of a "choice".
        range: The allowed numbers of an "int" or "float" (None: any).
        unset: None is allowed (it means what `unset_text` says).
        flag_value: What a "flag" switch stores when given.
        metavar: The flag's placeholder in `--help`.
        label: The Settings page's row label, with its & shortcut ("": not on the page).
        tooltip: The Settings control's tooltip, one sentence.
        mode_tooltips: (mode, tooltip) where the tooltip differs by mode.
        widget: How the page shows it: "spin", "decimal", "log" (arrows multiply by ~1.25),
            "combo", "check", or a name the page builds by hand ("probe_l2", "device").
        decimals: Digits after the point of a "decimal" box.
        smallest: The smallest value a box offers at an open lower end.
        unset_text: What a box shows for None (one step below its lowest number).
        low_text: What a box shows at its lowest value (e.g. "Off" for 0).
        choice_labels: (value, text) of a "combo", in order.
        basic: In the Basic group (else Advanced).
        modes: The modes it applies to; the page shows its row in these only.
        per_mode: Compare modes trains each mode with that mode's own value; False: the chosen
            mode's value serves all three (data split, seeds, computer), so they compare fairly.
        cli_only: Why the Settings page has no row for it ("": it has one).
    """

    name: str
    flag: str
    help: str
    kind: str
    choices: tuple[str, ...] = ()
    range: Optional[Range] = None
    unset: bool = False
    flag_value: bool = True
    metavar: Optional[str] = None
    label: str = ""
    tooltip: str = ""
    mode_tooltips: tuple[tuple[str, str], ...] = ()
    widget: str = ""
    decimals: int = 2
    smallest: Optional[float] = None
    unset_text: str = ""
    low_text: str = ""
    choice_labels: tuple[tuple[str, str], ...] = ()
    basic: bool = False
    modes: tuple[str, ...] = MODES
    per_mode: bool = True
    cli_only: str = ""

    def spin_range(self) -> tuple[float, float]:
        """The lowest and highest number a Settings box offers: the range, with an open lower
        end at `smallest` and an open upper end one last digit below it."""
        assert self.range is not None, self.name
        r = self.range
        low = self.smallest if r.low_open else r.low
        step = 1 if self.kind == "int" else 10 ** -self.decimals
        return low, (r.high - step if r.high_open else r.high)

    def tooltip_for(self, mode: str) -> str:
        return dict(self.mode_tooltips).get(mode, self.tooltip)


def _int(name: str, flag: str, help: str, low: float, high: float, **kw) -> Option:
    return Option(name, flag, help, "int", range=Range(low, high), metavar="N",
                  widget="spin", **kw)


def _float(name: str, flag: str, help: str, rng: Range, **kw) -> Option:
    return Option(name, flag, help, "float", range=rng, widget=kw.pop("widget", "decimal"),
                  metavar=kw.pop("metavar", "X"), **kw)


# In the order of the Settings page (Basic, then Advanced), which is also `train --help`'s.
OPTIONS: tuple[Option, ...] = (
    _int("epochs", "--epochs", "most passes over the training images (feature extraction: "
         "rounds of 10 fitting steps)", 1, 10_000, label="&Epochs:", basic=True,
         tooltip="How many passes over the training images, at most. Early stopping may end "
                 "sooner.",
         mode_tooltips=((FEATURE_EXTRACTION, "At most this many rounds of 10 fitting steps; "
                         "fitting stops sooner once it has settled."),)),
    _float("learning_rate", "--lr", "learning rate of the new layer (and of everything, from "
           "scratch)", Range(0, 10, low_open=True), widget="log", smallest=1e-6,
           label="&Learning rate:", basic=True, modes=TRAINED_BY_GRADIENT,
           tooltip="Step size of learning. Too high: training jumps around; too low: it crawls. "
                   "The arrows multiply or divide it by about 1.25."),
    Option("augmentation", "--augmentation", "random changes to the training images", "choice",
           AUGMENTATION_PRESETS, label="&Augmentation:", basic=True, widget="combo",
           choice_labels=(("none", "None"), ("light", "Light: crops and flips"),
                          ("strong", "Strong: crops, flips and colour changes")),
           tooltip="Random changes to training images so the model learns what matters, not the "
                   "exact pixels. Helps most with few images."),
    _int("batch_size", "--batch-size", "images per learning step", 1, 4096, label="Batch si&ze:",
         basic=True, modes=TRAINED_BY_GRADIENT,
         tooltip="Images per learning step. Lower it if you run out of memory."),
    Option("optimizer", "--optimizer", "the update rule", "choice", OPTIMIZERS,
           label="&Optimizer:", widget="combo", modes=TRAINED_BY_GRADIENT,
           choice_labels=(("adamw", "AdamW"), ("sgd", "SGD (momentum)"), ("rmsprop", "RMSprop")),
           tooltip="The update rule. AdamW is a safe default."),
    _float("weight_decay", "--weight-decay", "pull of the weights towards zero", Range(0, 10),
           decimals=5, label="&Weight decay:", modes=TRAINED_BY_GRADIENT,
           tooltip="Pulls weights towards zero to reduce overfitting."),
    _float("label_smoothing", "--label-smoothing", "softening of the target labels",
           Range(0, 1, high_open=True), label="Label s&moothing:", modes=TRAINED_BY_GRADIENT,
           tooltip="Makes the model less over-confident by softening the target labels."),
    _int("early_stopping_patience", "--patience", "stop after this many epochs without a better "
         "validation loss (0: never)", 0, 10_000, label="Early stopping &patience:",
         modes=TRAINED_BY_GRADIENT,
         tooltip="Stop when the validation loss has not improved for this many epochs (0: "
                 "never)."),
    Option("class_weights", "--class-weights", "auto weighs errors on rare classes more",
           "choice", CLASS_WEIGHTS, label="&Class weights:", widget="combo", per_mode=False,
           choice_labels=(("auto", "Balance rare classes"), ("none", "Off")),
           tooltip="Weigh errors on rare classes more, so an imbalanced dataset is not just "
                   "'predict the big class'."),
    _int("seed", "--seed", "seed of initialisation, shuffling and augmentation", 0, MAX_SEED,
         label="Seed:", per_mode=False,
         tooltip="Same seed, same data, same settings: the same result on the CPU."),
    Option("device", "--device", "where training runs (auto: a GPU when there is one)",
           "choice", DEVICES, label="&Device:", widget="device", per_mode=False,
           tooltip="Where training runs. Automatic picks a GPU when there is one."),
    Option("mixed_precision", "--no-mixed-precision", "turn off float16 arithmetic on NVIDIA "
           "GPUs", "flag", flag_value=False, label="Mixed precision on CUDA", widget="check",
           per_mode=False,
           tooltip="Faster training on NVIDIA GPUs with 16-bit arithmetic where it is safe."),
    _int("feature_views", "--views", "feature extraction with augmentation: augmented views "
         "cached per image", 0, 32, label="Augmented views:", modes=(FEATURE_EXTRACTION,),
         tooltip="Feature extraction with augmentation: augmented copies of each training image "
                 "whose features are computed once and reused."),
    _int("unfreeze_stages", "--unfreeze", "fine-tuning: train only the top N backbone stages "
         "(0: the new layer only; default: all)", 0, 64, unset=True, unset_text="All stages",
         label="Unfreeze &top stages:", modes=(FINE_TUNING,),
         tooltip="Fine-tuning: how many of the backbone's top stages learn; 0 trains only the "
                 "new layer, All stages trains the whole backbone."),
    _int("warmup_epochs", "--warmup", "fine-tuning: epochs that train the new layer alone "
         "before the backbone joins in", 0, 1000, label="Warm-&up epochs:", modes=(FINE_TUNING,),
         tooltip="Fine-tuning: epochs that train only the new layer before the backbone joins "
                 "in."),
    _float("backbone_lr_factor", "--backbone-lr-factor", "fine-tuning: backbone learning rate = "
           "learning rate x this", Range(0, 10, low_open=True), decimals=3, smallest=0.001,
           label="Bac&kbone learning-rate factor:", modes=(FINE_TUNING,),
           tooltip="Fine-tuning: the backbone learns this many times slower than the new "
                   "layer."),
    Option("batch_norm", "--batch-norm", "fine-tuning: frozen (batch-norm statistics stay as "
           "pretrained), reestimate (recomputed after each epoch) or train", "choice",
           BATCH_NORM_POLICIES, label="Batch norm:", widget="combo", modes=(FINE_TUNING,),
           choice_labels=(("frozen", "Keep pretrained statistics (recommended)"),
                          ("reestimate", "Re-estimate after each epoch"),
                          ("train", "Train normally")),
           tooltip="Fine-tuning: whether the backbone's batch-norm layers keep the averages they "
                   "learned in pretraining, recompute them on your images, or update them as "
                   "they train."),
    _float("stay_close", "--stay-close", "fine-tuning: pull of the backbone towards its "
           "pretrained weights (L2-SP strength, e.g. 0.01; 0: off)", Range(0, 10),
           metavar="ALPHA", decimals=4, low_text="Off", modes=(FINE_TUNING,),
           label="Sta&y close to pretrained weights:",
           tooltip="Fine-tuning: how strongly the backbone is pulled back towards its "
                   "pretrained weights, which helps with few images (Off: not at all)."),
    _float("head_l2", "--probe-l2", "L2 strength of the linear probe (default: chosen by "
           "cross-validation)", Range(0, low_open=True), unset=True, widget="probe_l2",
           label="Re&gularisation:", modes=(FEATURE_EXTRACTION, FINE_TUNING),
           tooltip="How strongly the new layer is kept simple, which guards against learning "
                   "noise; Automatic tries each strength on parts of the training images and "
                   "keeps the best."),
    Option("probe_start", "--no-probe-start", "fine-tuning: start from a random new layer "
           "instead of the fitted linear probe", "flag", flag_value=False, modes=(FINE_TUNING,),
           cli_only="an experiment's switch: the app always starts from the probe"),
    _float("dropout", "--dropout", "dropout before the new layer", Range(0, 1, high_open=True),
           cli_only="the mode's default suits the app's users"),
    Option("leave_out_empty_classes", "--leave-out-empty-classes", "leave out class folders "
           "without a usable image instead of stopping", "flag", per_mode=False,
           cli_only="the Data page asks about empty class folders when it scans"),
    _int("split_seed", "--split-seed", "seed of the split that makes missing val/test folders",
         0, MAX_SEED, per_mode=False, cli_only="the app keeps the split it scanned"),
    _float("val_fraction", "--val-fraction", "share of the images held out for validation when "
           "there is no val folder", Range(0, 1, low_open=True, high_open=True), per_mode=False,
           cli_only="the app keeps the split it scanned"),
    _float("test_fraction", "--test-fraction", "share of the images held out for test when "
           "there are no split folders", Range(0, 1, high_open=True), per_mode=False,
           cli_only="the app keeps the split it scanned"),
    Option("feature_cache_dir", "--cache-dir", "keep backbone features in this folder and reuse "
           "them in later runs", "folder", metavar="FOLDER", unset=True, per_mode=False,
           cli_only="the app keeps features in its own folder (Saved features, Advanced)"),
)

OPTION_BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}
# Allowed numbers per option, for TrainConfig.validated().
OPTION_RANGES: dict[str, Range] = {o.name: o.range for o in OPTIONS if o.range is not None}
# Options the chosen mode sets for all three runs of Compare modes.
SHARED_OPTIONS: tuple[str, ...] = tuple(o.name for o in OPTIONS if not o.per_mode) + (
    "memory_budget_mb",)
