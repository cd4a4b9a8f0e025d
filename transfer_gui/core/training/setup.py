"""Small builders the engine uses: device choice, seeding, optimiser, loss, batch iterables."""

from __future__ import annotations

import math
import random
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..inputs import InputPipeline


def pick_device(requested: str = "auto") -> torch.device:
    """auto picks cuda > mps > cpu; an unavailable explicit choice falls back to the CPU."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested in ("auto", "cuda") and cuda:
        return torch.device("cuda")
    if requested in ("auto", "mps") and mps:
        return torch.device("mps")
    return torch.device("cpu")


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return {"mps": "Apple GPU (MPS)", "cpu": "CPU"}.get(device.type, str(device))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def class_weights(train_labels: Sequence[int], num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over present classes (balanced data gives all ones)."""
    counts = np.bincount(np.asarray(train_labels, int), minlength=num_classes).astype(float)
    weights = np.where(counts > 0, counts.sum() / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def make_optimizer(name: str, groups: list[tuple[list[nn.Parameter], float, float]]
                   ) -> torch.optim.Optimizer:
    """One optimiser over (parameters, learning rate, weight decay) groups; biases and norm
    weights get no decay."""
    param_groups = []
    for params, lr, weight_decay in groups:
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        param_groups += [{"params": decay, "lr": lr, "weight_decay": weight_decay},
                         {"params": no_decay, "lr": lr, "weight_decay": 0.0}]
    param_groups = [g for g in param_groups if g["params"]]
    if name == "adamw":
        return torch.optim.AdamW(param_groups)
    if name == "sgd":
        return torch.optim.SGD(param_groups, momentum=0.9, nesterov=True)
    if name == "rmsprop":
        return torch.optim.RMSprop(param_groups, alpha=0.9, eps=1e-3, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}")


def num_batches(n: int, batch_size: int) -> int:
    return max(1, math.ceil(n / batch_size))


def _epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def fixed_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> Callable[[], Iterator]:
    """Validation batches over fixed tensors, in order."""
    def batches():
        for start in range(0, len(y), batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]

    return batches


class ImageBatches:
    """Batches of decoded images: augmented and shuffled for training, centre-cropped otherwise.

    `shard=(rank, processes)`: a distributed run's part (distributed.py). Training batches are
    then this process's rows of each global batch (rows rank, rank+processes, ...), yielded as
    (inputs, targets, share of the global batch); a process left without a row in a small last
    batch gets its first row with share 0, so that it still takes part in the gradient
    exchange. `evaluate` yields this process's rows only.
    """

    def __init__(self, get_images: Callable[[Sequence[int]], np.ndarray], indices: Sequence[int],
                 labels: Sequence[int], pipeline: InputPipeline, batch_size: int, seed: int,
                 augmentation: str = "none", eval_batch_size: Optional[int] = None,
                 shard: tuple[int, int] = (0, 1)) -> None:
        self.get_images, self.indices = get_images, list(indices)
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
        self.pipeline, self.batch_size, self.seed = pipeline, batch_size, seed
        self.augmentation = augmentation
        self.eval_batch_size = eval_batch_size or batch_size
        self.rank, self.processes = shard

    def train(self, epoch: int) -> Iterator[tuple]:
        order = _epoch_order(len(self.indices), self.seed, epoch)
        for b, start in enumerate(range(0, len(order), self.batch_size)):
            rows = order[start:start + self.batch_size]
            mine = rows[self.rank::self.processes]
            share = len(mine) / len(rows)
            if not len(mine):
                mine = rows[:1]
            arrays = self.get_images([self.indices[r] for r in mine])
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 10_007 + b
                                                + self.rank * 7_919)
            inputs = self.pipeline.train_batch(arrays, self.augmentation, gen)
            yield (inputs, self.labels[mine]) + ((share,) if self.processes > 1 else ())

    def evaluate(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        mine = list(range(len(self.indices)))[self.rank::self.processes]
        for start in range(0, len(mine), self.eval_batch_size):
            rows = mine[start:start + self.eval_batch_size]
            arrays = self.get_images([self.indices[r] for r in rows])
            yield self.pipeline.eval_batch(arrays), self.labels[rows]
