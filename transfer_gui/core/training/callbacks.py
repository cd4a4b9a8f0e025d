"""The callbacks every training run uses: history, schedule, checkpoint, early stop, logs, progress."""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional

import torch

from ..jobs import Progress, ProgressCallback
from .loop import Callback, Trainer
from .time_estimate import TimeLeft


class History(Callback):
    """Keeps every epoch's metrics (`epochs`) and every batch's training loss (`batch_losses`)."""

    order = 0

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []
        self.batch_losses: list[float] = []

    def after_batch(self, trainer: Trainer) -> None:
        self.batch_losses.append(trainer.batch_loss)

    def after_epoch(self, trainer: Trainer) -> None:
        self.epochs.append({"epoch": trainer.epoch + 1, **trainer.metrics})


class CosineSchedule(Callback):
    """Cosine decay of every parameter group's learning rate over all batches of the run.

    Each group keeps its own base rate (so the backbone stays `backbone_lr_factor` below the head).
    With `warmup_steps`, the rate first rises linearly from near 0: Adam's first steps move every
    weight by about the full rate whatever its gradient, which undid a fitted probe head's
    accuracy in the first fine-tuning epoch (train accuracy 1.0 -> 0.5, measured) until warm-up.
    """

    order = -10

    def __init__(self, total_steps: int, final_fraction: float = 0.01,
                 warmup_steps: int = 0) -> None:
        self.total_steps = max(total_steps, 1)
        self.warmup_steps = min(warmup_steps, self.total_steps - 1)
        self.final_fraction = final_fraction
        self.step = 0
        self.base_rates: list[float] = []

    def before_fit(self, trainer: Trainer) -> None:
        self.base_rates = [group["lr"] for group in trainer.optimizer.param_groups]

    def before_batch(self, trainer: Trainer) -> None:
        if self.step < self.warmup_steps:
            scale = (self.step + 1) / (self.warmup_steps + 1)
        else:
            progress = min((self.step - self.warmup_steps)
                           / max(self.total_steps - self.warmup_steps, 1), 1.0)
            scale = self.final_fraction + (1 - self.final_fraction) * 0.5 * (
                1 + math.cos(math.pi * progress))
        for group, base in zip(trainer.optimizer.param_groups, self.base_rates):
            group["lr"] = base * scale
        self.step += 1

    def after_train(self, trainer: Trainer) -> None:
        trainer.metrics["lr"] = trainer.optimizer.param_groups[-1]["lr"]


class BestCheckpoint(Callback):
    """Remembers the weights of the best epoch (highest val accuracy, then lowest val loss) and
    puts them back into the model when fitting ends, also after a cancel. With keep="latest" it
    keeps the latest epoch instead (a convex fit such as the linear probe, whose end point was
    chosen by cross-validation, not by the validation images).

    `save(metrics)` persists the model (e.g. writes model.pt) while it holds the best weights: at
    an improvement when `min_interval` seconds have passed since the last save (so a crash loses
    at most that much training), and once more at the end if a newer best is unsaved. The
    interval keeps fast feature-extraction epochs from rewriting the file many times a second.
    """

    order = 10

    def __init__(self, save: Optional[Callable[[dict], None]] = None,
                 min_interval: float = 5.0, keep: str = "best") -> None:
        if keep not in ("best", "latest"):
            raise ValueError(f"keep must be 'best' or 'latest', not {keep!r}")
        self.keep = keep
        self.save = save
        self.min_interval = min_interval
        self.best_state: Optional[dict[str, torch.Tensor]] = None
        self.best_metrics: Optional[dict[str, float]] = None
        self._unsaved = False
        self._last_save = -math.inf

    @staticmethod
    def is_better(new: dict[str, float], old: Optional[dict[str, float]]) -> bool:
        if old is None:
            return True
        return (new["val_acc"], -new["val_loss"]) > (old["val_acc"], -old["val_loss"])

    def _save(self) -> None:
        if self.save and self._unsaved:
            self.save(self.best_metrics)
            self._unsaved, self._last_save = False, time.perf_counter()

    def after_epoch(self, trainer: Trainer) -> None:
        metrics = {"epoch": trainer.epoch + 1, **trainer.metrics}
        if self.keep == "latest" or self.is_better(metrics, self.best_metrics):
            self.best_metrics = metrics
            self.best_state = {k: v.detach().to("cpu", copy=True)
                               for k, v in trainer.network.state_dict().items()}
            self._unsaved = True
            if time.perf_counter() - self._last_save >= self.min_interval:
                self._save()

    def after_fit(self, trainer: Trainer) -> None:
        if self.best_state is not None:
            trainer.network.load_state_dict(self.best_state)
            self._save()


class EarlyStopping(Callback):
    """Stops when validation loss has not improved by `min_delta` for `patience` epochs."""

    order = 20

    def __init__(self, patience: int, min_delta: float = 0.0, monitor: str = "val_loss") -> None:
        if patience < 1:
            raise ValueError("patience must be at least 1 (leave the callback out to disable it)")
        self.patience = patience
        self.min_delta = min_delta
        self.monitor = monitor
        self.best = math.inf
        self.wait = 0

    def evaluate(self, current: float) -> tuple[bool, Optional[str]]:
        """Update with this epoch's value; returns (stop, reason)."""
        if current < self.best - self.min_delta:
            self.best, self.wait = current, 0
            return False, None
        self.wait += 1
        if self.wait >= self.patience:
            return True, (f"early stopping: {self.monitor} has not improved for "
                          f"{self.patience} epochs (best {self.best:.4f})")
        return False, None

    def after_epoch(self, trainer: Trainer) -> None:
        stop, reason = self.evaluate(trainer.metrics[self.monitor])
        if stop:
            trainer.request_stop(reason)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}


class EpochEnd(Callback):
    """Calls `function(epoch_metrics)` after each epoch (metric logs, plot feeds)."""

    order = 30

    def __init__(self, function: Callable[[dict[str, float]], None]) -> None:
        self.function = function

    def after_epoch(self, trainer: Trainer) -> None:
        self.function({"epoch": trainer.epoch + 1, **trainer.metrics})


class ProgressReporter(Callback):
    """Reports training progress, mapped into [start, end] of the whole job, with the time left
    estimated from the steps timed so far (time_estimate.TimeLeft; `clock` for tests)."""

    order = 40

    def __init__(self, report: ProgressCallback, start: float = 0.0, end: float = 1.0,
                 min_interval: float = 0.1, clock: Callable[[], float] = time.perf_counter) -> None:
        self.report = report
        self.start, self.end = start, end
        self.min_interval = min_interval
        self.clock = clock
        self.time_left: Optional[TimeLeft] = None
        self._last = -math.inf

    def before_fit(self, trainer: Trainer) -> None:
        self.time_left = TimeLeft(trainer.epochs, trainer.num_batches, clock=self.clock)

    def before_epoch(self, trainer: Trainer) -> None:
        self.time_left.epoch_started()

    def before_validate(self, trainer: Trainer) -> None:
        self.time_left.validation_started()

    def after_validate(self, trainer: Trainer) -> None:
        self.time_left.validation_done()

    def _send(self, trainer: Trainer, done: float, message: str, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        eta = self.time_left.seconds_left() if self.time_left is not None else None
        self.report(Progress(self.start + (self.end - self.start) * done, message, eta, "train"))

    def after_batch(self, trainer: Trainer) -> None:
        self.time_left.step_done()
        done = ((trainer.epoch + (trainer.batch_index + 1) / max(trainer.num_batches, 1))
                / max(trainer.epochs, 1))
        self._send(trainer, min(done, 1.0), f"Epoch {trainer.epoch + 1}/{trainer.epochs}, batch "
                   f"{trainer.batch_index + 1}/{trainer.num_batches}, loss {trainer.batch_loss:.3f}")

    def after_epoch(self, trainer: Trainer) -> None:
        if trainer.epoch >= 0:  # not the starting point's validation (fine-tuning's epoch 0)
            self.time_left.epoch_done()
        m = trainer.metrics
        self._send(trainer, (trainer.epoch + 1) / max(trainer.epochs, 1),
                   f"Epoch {trainer.epoch + 1}/{trainer.epochs}: train loss {m['train_loss']:.3f}, "
                   f"val loss {m['val_loss']:.3f}, val accuracy {m['val_acc']:.1%}", force=True)


class Unfreeze(Callback):
    """Fine-tuning warm-up: the head trains alone for `after_epochs`, then `unfreeze()` runs."""

    order = -20

    def __init__(self, after_epochs: int, unfreeze: Callable[[], None]) -> None:
        self.after_epochs = after_epochs
        self.unfreeze = unfreeze

    def before_epoch(self, trainer: Trainer) -> None:
        if trainer.epoch == self.after_epochs:
            self.unfreeze()




class Converged(Callback):
    """Stops a full-batch fit (L-BFGS) once its training loss no longer changes."""

    order = 20

    def __init__(self, tolerance: float = 1e-7) -> None:
        self.tolerance = tolerance
        self.previous = math.inf

    def after_epoch(self, trainer: Trainer) -> None:
        loss = trainer.metrics["train_loss"]
        if abs(self.previous - loss) <= self.tolerance * max(1.0, abs(loss)):
            trainer.request_stop("converged: the fit no longer improves")
        self.previous = loss


class ReestimateBatchNorm(Callback):
    """After each training epoch, recompute batch-norm statistics over the training images
    (`inputs()` yields un-augmented input batches); see batchnorm.py."""

    order = -5

    def __init__(self, inputs: Callable[[], Any], device: torch.device, cancel) -> None:
        self.inputs, self.device, self.cancel = inputs, device, cancel

    def after_train(self, trainer: Trainer) -> None:
        from .batchnorm import reestimate_statistics

        reestimate_statistics(trainer.network, self.inputs(), self.device, self.cancel)
