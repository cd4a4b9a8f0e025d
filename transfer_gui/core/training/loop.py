"""A small training loop with ordered callbacks (after fastai's Learner and Lightning's hooks).

Each phase fires `before_*` and `after_*` events. History, early stopping, best checkpoint, metric
logging, progress and learning-rate schedules are all callbacks; the loop itself only steps the
optimiser. A cancel token is checked before every batch: `Cancelled` is caught at fit level, fires
`after_cancel`, and `after_fit` always runs, so the best model is kept.

Two step styles: mini-batch optimisers (AdamW, SGD, ...) step once per batch, optionally in
micro-batches whose gradients add up (the cancel token is checked between them, and peak memory
follows the micro-batch); L-BFGS steps once per batch with a closure (full-batch probe fitting).

Across processes (torchrun; distributed.py) the model is DistributedDataParallel and each batch
is this process's share of the global batch, given as (inputs, targets, share): the loss is
weighted by the share, the per-step sums (loss, correct, samples, "stop?") are added over the
processes so all of them decide alike, and validation runs on the unwrapped `network`.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from typing import Callable, Iterable, Optional, Sequence

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import Cancelled
from ..jobs import CancelToken
from .distributed import Distributed, PeerLost

EVENTS = ("before_fit", "before_epoch", "before_train", "before_batch", "after_batch",
          "after_train", "before_validate", "after_validate", "after_epoch", "after_cancel",
          "after_fit")

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class Diverged(Exception):
    """A loss became NaN or infinite: the weights are ruined, so training stops at once (the
    epoch is not validated nor offered as the best model)."""


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

    Attributes read by callbacks: `model` (what trains: DistributedDataParallel across
    processes), `network` (the model itself, for weights and batch-norm work), `optimizer`,
    `epoch` (0-based), `epochs`, `batch_index`, `num_batches`, `batch_loss`, `batch_samples`
    (samples in the last batch), `metrics` (this epoch's dict: train_loss, train_acc, val_loss,
    val_acc, lr, seconds), `stop_reason`, `cancelled`, `peer_lost`.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 train_batches: Callable[[int], Batches], val_batches: Callable[[], Batches],
                 *, epochs: int, num_batches: int, device: torch.device,
                 callbacks: Sequence[Callback] = (), cancel: Optional[CancelToken] = None,
                 mixed_precision: bool = False, micro_batch: Optional[int] = None,
                 start_metrics: Optional[dict[str, float]] = None,
                 penalty: Optional[Callable[[], torch.Tensor]] = None,
                 set_train_mode: Callable[[nn.Module], None] = lambda m: m.train(),
                 dist: Distributed = Distributed()) -> None:
        """`micro_batch`: split each batch into chunks of this many samples and add their
        gradients (exact when no layer mixes samples in training mode, e.g. batch norm with
        frozen statistics). `start_metrics`: train metrics of the model as given (e.g. a fitted
        linear probe); the model is then validated as "epoch 0" before training, so a run can
        keep its starting point when no epoch beats it. `penalty()`: a regulariser added to the
        training loss once per step (not to the reported or validation losses). `dist`: the
        processes of a distributed run (`model` is then wrapped in DistributedDataParallel)."""
        self.model = model
        self.network: nn.Module = (model.module if isinstance(model, DistributedDataParallel)
                                   else model)
        self.dist = dist
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
        self.micro_batch = micro_batch
        self.start_metrics = start_metrics
        self.penalty = penalty
        self.uses_closure = isinstance(optimizer, torch.optim.LBFGS)
        self.amp = mixed_precision and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.epoch = 0
        self.batch_index = 0
        self.batch_loss = float("nan")
        self.batch_samples = 0
        self.metrics: dict[str, float] = {}
        self.stop_reason: Optional[str] = None
        self.cancelled = False
        self.peer_lost: Optional[str] = None  # why another process of the run stopped

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
            if self.start_metrics is not None:
                self.epoch, self.metrics = -1, dict(self.start_metrics)
                self._validate()
                self.metrics["seconds"] = 0.0
                self.event("after_epoch")
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
        except Diverged as exc:
            self.stop_reason = (f"{exc}, so training stopped; the learning rate or weight decay "
                                f"is probably too high (try a lower one)")
        except PeerLost as exc:
            self.cancelled, self.peer_lost = True, exc.detail
            self.stop_reason = (f"another of the {self.dist.world_size} training processes "
                                f"stopped while {exc.what} in epoch {self.epoch + 1} (torchrun's "
                                f"report says which and why), so all of them stopped")
            self.event("after_cancel")
        finally:
            self.event("after_fit")

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()

    def _train_epoch(self) -> None:
        self.set_train_mode(self.model)
        self.event("before_train")
        total_loss, correct, seen = 0.0, 0, 0
        for self.batch_index, batch in enumerate(self.train_batches(self.epoch)):
            inputs, targets, share = batch if len(batch) == 3 else (*batch, 1.0)
            self._cancel_point()
            self.event("before_batch")
            inputs = inputs.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            if self.uses_closure:
                loss_sum, batch_correct = self._closure_step(inputs, targets)
            else:
                loss_sum, batch_correct = self._step(inputs, targets, share)
            n = targets.shape[0] if share > 0 else 0
            if self.dist.active:  # the global batch's sums, and whether any process stops
                stop, loss_sum, batch_correct, n = self.dist.sum(
                    float(self.cancel.cancelled), loss_sum, batch_correct, n)
                if stop:
                    raise Cancelled()
            n = self.batch_samples = int(n)
            self.batch_loss = loss_sum / max(n, 1)
            if not math.isfinite(self.batch_loss):
                raise Diverged(f"The training loss became {self.batch_loss} in epoch "
                               f"{self.epoch + 1}, batch {self.batch_index + 1}")
            total_loss += loss_sum
            correct += batch_correct
            seen += n
            self.event("after_batch")
        self.metrics["train_loss"] = total_loss / max(seen, 1)
        self.metrics["train_acc"] = correct / max(seen, 1)
        self.event("after_train")

    def _cancel_point(self) -> None:
        """Stop here if cancelled; across processes, a cancel is acted on where all of them
        agree (the per-step sums), so no process is left waiting for the others."""
        if not self.dist.active:
            self.cancel.raise_if_cancelled()

    def _step(self, inputs: torch.Tensor, targets: torch.Tensor,
              share: float = 1.0) -> tuple[float, int]:
        """One optimiser step over the batch, in micro-batches; returns (loss x n, correct).
        `share`: this process's part of the global batch (0: the rows are a stand-in that
        only takes part in the gradient exchange)."""
        n = targets.shape[0]
        size = self.micro_batch or n
        starts = range(0, n, size)
        # DistributedDataParallel averages over processes: weight each one's loss by its share.
        weight = share * self.dist.world_size
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum, correct = 0.0, 0
        for start in starts:
            if start:
                self._cancel_point()
            last = start == starts[-1]
            x, y = inputs[start:start + size], targets[start:start + size]
            # Gradients are exchanged once per step: at the last micro-batch's backward.
            with nullcontext() if last or not self.dist.active else self.model.no_sync():
                with self._autocast():
                    logits = self.model(x)
                    loss = self.loss_fn(logits.float(), y)
                total = loss * (y.shape[0] / n * weight)
                if last and self.penalty is not None:
                    total = total + self.penalty()
                with self.dist.collective("exchanging gradients"):
                    self.scaler.scale(total).backward()
            if share > 0:
                loss_sum += float(loss.detach()) * y.shape[0]
                correct += int((logits.detach().argmax(1) == y).sum())
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss_sum, correct

    def _closure_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[float, int]:
        """One L-BFGS step (several iterations) on the whole batch; the loss before it."""
        def closure():
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(inputs).float(), targets)
            if self.penalty is not None:
                loss = loss + self.penalty()
            loss.backward()
            return loss

        with torch.no_grad():
            logits = self.model(inputs)
            loss = float(self.loss_fn(logits.float(), targets))
            correct = int((logits.argmax(1) == targets).sum())
        self.optimizer.step(closure)
        return loss * targets.shape[0], correct

    @torch.no_grad()
    def _validate(self) -> None:
        """Validation metrics (across processes: of every process's share, added up)."""
        self.network.eval()
        self.event("before_validate")
        total_loss, correct, seen = 0.0, 0, 0
        for inputs, targets in self.val_batches():
            self._cancel_point()
            inputs, targets = inputs.to(self.device), targets.to(self.device)
            with self._autocast():
                logits = self.network(inputs)
            total_loss += float(self.loss_fn(logits.float(), targets)) * targets.shape[0]
            correct += int((logits.argmax(1) == targets).sum())
            seen += targets.shape[0]
        total_loss, correct, seen = self.dist.sum(total_loss, correct, seen)
        self.metrics["val_loss"] = total_loss / max(seen, 1)
        if not math.isfinite(self.metrics["val_loss"]):
            raise Diverged(f"The validation loss became {self.metrics['val_loss']} after epoch "
                           f"{self.epoch + 1}")
        self.metrics["val_acc"] = correct / max(seen, 1)
        self.event("after_validate")
