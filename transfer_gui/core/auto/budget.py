"""How long a search trial takes, so the search fits its budget.

Before the first trial the times come from the per-image costs measured on this computer (the
estimate Compare modes shows, `time_estimate.planned_seconds`); after each trial, from what the
trials took. A trial is a set-up (decoding the images; the first also computes the probe's
features, which later ones find in the feature cache) and its epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional

from ..data import DatasetScan
from ..jobs import CancelToken
from ..training.config import TrainConfig

# The epochs' upper bound lets at least this many trials of that many epochs fit the budget.
MIN_TRIALS = 3


@dataclass
class TrialTimes:
    """Seconds of a trial: `setup` plus `epoch` per epoch (every stage unfrozen)."""

    setup: float
    epoch: float
    measured: int = 0  # trials the figures come from (0: the planned estimate)

    @classmethod
    def planned(cls, config: TrainConfig, scan: DatasetScan,
                cancel: Optional[CancelToken] = None) -> "TrialTimes":
        """From the image costs measured on a few of the scan's images (a second or two)."""
        from ..training.image_costs import measure_image_costs
        from ..training.time_estimate import SplitSizes, planned_seconds

        sizes = SplitSizes(*(len(scan.split(name)) for name in ("train", "val", "test")))
        costs = measure_image_costs(config.backbone, [s.path for s in scan.samples],
                                    config.device, cancel=cancel)
        scoring = (sizes.val + sizes.test) * costs.forward  # trials skip it

        def seconds(epochs: int) -> float:
            return planned_seconds(replace(config, epochs=epochs), sizes, costs) - scoring

        return cls(setup=seconds(0), epoch=seconds(1) - seconds(0))

    def trial(self, epochs: int) -> float:
        return self.setup + epochs * self.epoch

    def epoch_range(self, bounds: tuple[int, int], budget_seconds: float) -> tuple[int, int]:
        """`bounds` with the top lowered so MIN_TRIALS trials fit `budget_seconds` (never
        below the bottom)."""
        low, high = bounds
        share = budget_seconds / MIN_TRIALS - self.setup
        fits = math.floor(share / self.epoch) if self.epoch > 0 else high
        return low, max(low, min(high, fits))

    def add(self, seconds: float, epoch_seconds: list[float]) -> None:
        """Learn from a finished trial: its total seconds and each epoch's."""
        if not epoch_seconds:
            return
        per_epoch = sum(epoch_seconds) / len(epoch_seconds)
        # The mean over trials for epochs (trials unfreeze different stages); the latest set-up
        # (the first trial's included computing the probe's features once for all).
        self.epoch = (per_epoch if self.measured == 0
                      else (self.epoch * self.measured + per_epoch) / (self.measured + 1))
        self.setup = max(seconds - sum(epoch_seconds), 0.0)
        self.measured += 1
