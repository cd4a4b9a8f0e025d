"""How long training will take: the time left in a running run, from the steps it has timed,
and (`planned_seconds`) a run's time before it starts, from per-image costs on this computer.

`TimeLeft` is fed the run's events (the `ProgressReporter` callback does it) and answers
`seconds_left()`. It extrapolates from the *latest* epoch, not from the run's average:

- the first epoch pays one-off costs (images decoded on first use, memory and thread pools
  warming up), so it can be much slower than the rest;
- fine-tuning validates its starting point (the linear probe, "epoch 0") before training: that is
  one validation pass, cheap, and no training step, so it only measures validation;
- later epochs can also be slower than the first (a warm laptop slows down; other work starts);
  the latest epoch is the best predictor of the next ones. Measured (tiny test run, 2 cores):
  epoch 1 took 37 s, epochs 2 and 3 took 46 and 44 s.

The estimate covers the remaining training steps, each epoch's validation (and anything else an
epoch does besides its steps) and the final scoring of the kept model (about one validation
pass). Early stopping can end a run sooner: the figure is then an upper bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from .config import TrainConfig

# Before any validation was timed, an epoch's extra work is guessed as this share of its steps:
# a validation pass is forward-only over fewer images than training (measured 20-25% on CPU).
VALIDATION_GUESS = 0.25
# Within an epoch, its own step times replace the previous epoch's once it has this many.
MIN_STEPS = 3


class TimeLeft:
    """Seconds left in a run of `epochs` epochs of `batches` steps, from measured times.

    Call `epoch_started()` before an epoch's first step, `step_done()` after each step,
    `validation_started()` / `validation_done()` around each validation (also the one before
    training, fine-tuning's epoch 0) and `epoch_done()` at an epoch's end. `clock` returns
    seconds (tests pass a fake one).
    """

    def __init__(self, epochs: int, batches: int, final_passes: float = 1.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.epochs, self.batches = max(epochs, 0), max(batches, 1)
        self.final_passes = final_passes
        self.clock = clock
        self.epochs_done = 0
        self._in_epoch = False
        self._epoch_start = 0.0
        self._mark = 0.0  # end of the last step (or the epoch's start)
        self._steps: list[float] = []  # this epoch's step times
        self._last_step: Optional[float] = None  # mean step time of the last finished epoch
        self._last_extra: Optional[float] = None  # the last epoch's time besides its steps
        self._validation: Optional[float] = None  # the last validation pass
        self._validation_start: Optional[float] = None

    # -- measurements ---------------------------------------------------------------------------
    def epoch_started(self) -> None:
        self._in_epoch = True
        self._epoch_start = self._mark = self.clock()
        self._steps = []

    def step_done(self) -> None:
        now = self.clock()
        self._steps.append(now - self._mark)
        self._mark = now

    def validation_started(self) -> None:
        self._validation_start = self.clock()

    def validation_done(self) -> None:
        if self._validation_start is not None:
            self._validation = self.clock() - self._validation_start
            self._validation_start = None

    def epoch_done(self) -> None:
        if not self._in_epoch:
            return
        if self._steps:
            self._last_step = self._epoch_step_time()
            self._last_extra = max(self.clock() - self._epoch_start - sum(self._steps), 0.0)
        self._in_epoch = False
        self.epochs_done += 1
        self._steps = []

    # -- the estimate ---------------------------------------------------------------------------
    def _epoch_step_time(self) -> float:
        """Mean step time of this epoch; its first step is left out when there are others (it
        pays the epoch's start-up: shuffling, workers, caches)."""
        steps = self._steps[1:] if len(self._steps) > MIN_STEPS else self._steps
        return sum(steps) / len(steps)

    def step_time(self) -> Optional[float]:
        """The step time to extrapolate with, or None before anything was timed."""
        if self._in_epoch and (len(self._steps) >= min(MIN_STEPS, self.batches)
                               or self._last_step is None and self._steps):
            return self._epoch_step_time()
        return self._last_step

    def _extra_per_epoch(self, step: float) -> float:
        if self._last_extra is not None:
            return self._last_extra
        if self._validation is not None:
            return self._validation
        return VALIDATION_GUESS * step * self.batches

    def seconds_left(self) -> Optional[float]:
        """Seconds until the run ends (all epochs, then scoring), or None while unknown."""
        step = self.step_time()
        if step is None:
            return None
        extra = self._extra_per_epoch(step)
        validation = self._validation if self._validation is not None else extra
        left = self.final_passes * validation
        later_epochs = self.epochs - self.epochs_done
        if self._in_epoch:
            later_epochs -= 1
            steps_left = max(self.batches - len(self._steps), 0)
            left += steps_left * step
            since_last_step = self.clock() - self._mark if steps_left == 0 else 0.0
            left += max(extra - since_last_step, 0.0)
        left += max(later_epochs, 0) * (self.batches * step + extra)
        return max(left, 0.0)


# -- before a run: the time it will take, from per-image costs ------------------------------------
@dataclass(frozen=True)
class ImageCosts:
    """Seconds per image on this computer for one backbone (measure_image_costs measures them).

    Attributes:
        decode: Reading, decoding and resizing one image file.
        forward: One image through the network without learning (features, validation).
        train: One image's training step through the whole network (forward and backward).
    """

    decode: float
    forward: float
    train: float


@dataclass(frozen=True)
class SplitSizes:
    train: int
    val: int
    test: int = 0

    @property
    def total(self) -> int:
        return self.train + self.val + self.test


# The linear probe's L-BFGS fit and the choice of its strength: a few seconds on any dataset
# the app is meant for (hymenoptera: 1-2 s on 2 cores).
PROBE_SECONDS = 3.0


def planned_seconds(config: "TrainConfig", sizes: SplitSizes, costs: ImageCosts) -> float:
    """About how long `config` trains on a dataset of `sizes` (all its epochs: early stopping
    or convergence may end it sooner). The same parts as a run's: decode or feature pass,
    the probe, the epochs (steps and validation), then scoring the kept model."""
    from .config import FEATURE_EXTRACTION, FINE_TUNING

    score = (sizes.val + sizes.test) * costs.forward
    if config.mode == FEATURE_EXTRACTION:
        views = config.feature_views if config.augmentation != "none" else 0
        passes = sizes.total + sizes.train * views  # each view is one more forward pass
        return sizes.total * costs.decode + passes * costs.forward + PROBE_SECONDS
    seconds = sizes.total * costs.decode
    if config.mode == FINE_TUNING and config.probe_start:
        seconds += (sizes.train + sizes.val) * costs.forward + PROBE_SECONDS
    epoch = sizes.train * costs.train + sizes.val * costs.forward
    return seconds + config.epochs * epoch + score
