"""What the automatic settings search varies, per mode: TrainConfig fields, each within its
declared range (core/training/options.py), narrowed to where good values lie.

Feature extraction searches nothing here: its one setting, the probe's L2 strength, is chosen
by cross-validation (probe.py). Options the user set are fixed: they are left out of the search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection

from ..training.config import AUGMENTATION_PRESETS, FINE_TUNING, FROM_SCRATCH, TrainConfig

# In the order of the search table's columns.
SEARCHED: dict[str, tuple[str, ...]] = {
    FINE_TUNING: ("learning_rate", "backbone_lr_factor", "unfreeze_stages", "augmentation",
                  "epochs"),
    FROM_SCRATCH: ("learning_rate", "augmentation", "epochs"),
}
# Log-scale bounds (both inside the options' declared ranges; tests/test_auto_settings.py checks).
LOG_BOUNDS: dict[str, tuple[float, float]] = {"learning_rate": (1e-4, 1e-2),
                                              "backbone_lr_factor": (0.01, 1.0)}
# Epochs per trial: at most these, and at most what lets MIN_TRIALS trials fit the budget
# (budget.TrialTimes.epoch_range).
EPOCH_BOUNDS: dict[str, tuple[int, int]] = {FINE_TUNING: (2, 15), FROM_SCRATCH: (3, 40)}


@dataclass(frozen=True)
class Space:
    """The searched options of one search.

    Attributes:
        names: The options searched (the mode's, less the fixed ones), in table order.
        stages: The backbone's stages: unfreeze_stages is searched from 1 to this, which is
            recorded as None (all stages: the whole backbone trains, as with the default).
        epochs: The lowest and highest epochs a trial may have.
    """

    names: tuple[str, ...]
    stages: int
    epochs: tuple[int, int]

    @classmethod
    def of(cls, mode: str, fixed: Collection[str], stages: int,
           epochs: tuple[int, int]) -> "Space":
        return cls(tuple(n for n in SEARCHED[mode] if n not in fixed), max(stages, 1), epochs)

    def suggest(self, trial) -> dict[str, Any]:
        """TrainConfig values for an Optuna trial (its suggest_* calls)."""
        values: dict[str, Any] = {}
        for name in self.names:
            if name in LOG_BOUNDS:
                values[name] = trial.suggest_float(name, *LOG_BOUNDS[name], log=True)
            elif name == "unfreeze_stages":
                top = trial.suggest_int(name, 1, self.stages)
                values[name] = None if top == self.stages else top
            elif name == "augmentation":
                values[name] = trial.suggest_categorical(name, AUGMENTATION_PRESETS)
            elif name == "epochs":
                values[name] = trial.suggest_int(name, *self.epochs)
        return values

    def params_of(self, config: TrainConfig) -> dict[str, Any]:
        """`config`'s values as the study's parameters, brought inside the bounds (to try the
        mode's defaults first)."""
        params: dict[str, Any] = {}
        for name in self.names:
            value = getattr(config, name)
            if name in LOG_BOUNDS:
                low, high = LOG_BOUNDS[name]
                value = min(max(value, low), high)
            elif name == "unfreeze_stages":
                value = self.stages if value is None else min(max(value, 1), self.stages)
            elif name == "epochs":
                value = min(max(value, self.epochs[0]), self.epochs[1])
            params[name] = value
        return params


def describe(name: str, value: Any) -> str:
    """A searched value as the table shows it: 0.00123 -> '1.2e-03', None stages -> 'all'."""
    if name == "unfreeze_stages":
        return "all" if value is None else str(value)
    if name == "learning_rate":
        return f"{value:.1e}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
