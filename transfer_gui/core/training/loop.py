"""A small training loop with ordered callbacks (after fastai's Learner and Lightning's hooks).

Each phase fires `before_*` and `after_*` events. History, early stopping, best checkpoint, metric
logging, progress and learning-rate schedules are all callbacks; the loop itself only steps the
optimiser. A cancel token is checked before every batch: `Cancelled` is caught at fit level, fires
`after_cancel`, and `after_fit` always runs, so the best model is kept.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Callable, Iterable, Optional, Sequence

import torch
from torch import nn

from ..errors import Cancelled
from ..jobs import CancelToken

EVENTS = ("before_fit", "before_epoch", "before_train", "before_batch", "after_batch",
          "after_train", "before_validate", "after_validate", "after_epoch", "after_cancel",
          "after_fit")

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class Callback:
    """Base class: override any method named in EVENTS; each receives the Trainer.

    Callbacks run in ascending `order`, so one that saves the best model (order 10) sees an
    epoch's metrics before one that may stop training (order 20).
    """

    order = 0

    def __call__(self, event: str, trainer: "Trainer") -> None:
        handler = getattr(self, event, None)
        if handler is not None:
            handler(trainer)


class Trainer:
    """Runs `epochs` of training and validation on (inputs, targets) batches.

    Attributes read by callbacks: `model`, `optimizer`, `epoch` (0-based), `epochs`,
    `batch_index`, `num_batches`, `batch_loss`, `batch_samples` (samples in the last batch),
    `metrics` (this epoch's dict: train_loss, train_acc, val_loss, val_acc, lr, seconds),
    `stop_reason`, `cancelled`.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 train_batches: Callable[[int], Batches], val_batches: Callable[[], Batches],
                 *, epochs: int, num_batches: int, device: torch.device,
                 callbacks: Sequence[Callback] = (), cancel: Optional[CancelToken] = None,
                 mixed_precision: bool = False,
                 set_train_mode: Callable[[nn.Module], None] = lambda m: m.train()) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.train_batches = train_batches
        self.val_batches = val_batches
        self.epochs = epochs
        self.num_batches = num_batches
        self.device = device
        self.callbacks = sorted(callbacks, key=lambda cb: cb.order)
        self.cancel = cancel or CancelToken()
        self.set_train_mode = set_train_mode
        self.amp = mixed_precision and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.epoch = 0
        self.batch_index = 0
        self.batch_loss = float("nan")
        self.batch_samples = 0
        self.metrics: dict[str, float] = {}
        self.stop_reason: Optional[str] = None
        self.cancelled = False

    def event(self, name: str) -> None:
        assert name in EVENTS, f"unknown event {name}"
        for callback in self.callbacks:
            callback(name, self)

    def request_stop(self, reason: str) -> None:
        """Finish after the current epoch (early stopping uses this)."""
        self.stop_reason = reason

    def fit(self) -> None:
        try:
            self.event("before_fit")
            for self.epoch in range(self.epochs):
                started = time.perf_counter()
                self.metrics = {}
                self.event("before_epoch")
                self._train_epoch()
                self._validate()
                self.metrics["seconds"] = time.perf_counter() - started
                self.event("after_epoch")
                if self.stop_reason:
                    break
        except Cancelled:
            self.cancelled = True
            self.stop_reason = "stopped by the user"
            self.event("after_cancel")
        finally:
            self.event("after_fit")

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()

    def _train_epoch(self) -> None:
        self.set_train_mode(self.model)
        self.event("before_train")
        total_loss, correct, seen = 0.0, 0, 0
        for self.batch_index, (inputs, targets) in enumerate(self.train_batches(self.epoch)):
            self.cancel.raise_if_cancelled()
            self.event("before_batch")
            inputs = inputs.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            with self._autocast():
                logits = self.model(inputs)
                loss = self.loss_fn(logits.float(), targets)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.batch_loss = float(loss.detach())
            n = self.batch_samples = targets.shape[0]
            total_loss += self.batch_loss * n
            correct += int((logits.detach().argmax(1) == targets).sum())
            seen += n
            self.event("after_batch")
        self.metrics["train_loss"] = total_loss / max(seen, 1)
        self.metrics["train_acc"] = correct / max(seen, 1)
        self.event("after_train")

    @torch.no_grad()
    def _validate(self) -> None:
        self.model.eval()
        self.event("before_validate")
        total_loss, correct, seen = 0.0, 0, 0
        for inputs, targets in self.val_batches():
            self.cancel.raise_if_cancelled()
            inputs, targets = inputs.to(self.device), targets.to(self.device)
            with self._autocast():
                logits = self.model(inputs)
            total_loss += float(self.loss_fn(logits.float(), targets)) * targets.shape[0]
            correct += int((logits.argmax(1) == targets).sum())
            seen += targets.shape[0]
        self.metrics["val_loss"] = total_loss / max(seen, 1)
        self.metrics["val_acc"] = correct / max(seen, 1)
        self.event("after_validate")
