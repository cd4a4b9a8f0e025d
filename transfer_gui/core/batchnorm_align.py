"""Batch-norm statistics aligned to new images: the arithmetic behind core/recalibrate.py.

Plain AdaBN (Li et al. 2016) replaces every batch-norm layer's running statistics with those of the
new images. That assumes the statistics the head was trained with were the training images' own;
here they are not: feature extraction, and fine-tuning with frozen batch norm (the default), keep
the ImageNet statistics, so plain AdaBN moves the features away from what the head learnt.

So each layer is aligned instead: with the training images' input mean and spread at that layer
(mu_S, sd_S) and the new images' (mu_T, sd_T), the layer first maps new inputs onto the training
distribution, x -> (x - mu_T) / sd_T * sd_S + mu_S, then applies its own statistics; both steps
fold into new running statistics, so the model stays an ordinary model. The new images'
statistics are taken layer by layer in one pass, each layer normalising a batch by its own
statistics as AdaBN does. When the training statistics are the layer's own, this is plain AdaBN.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Optional, Sequence

import torch
from torch import nn

from .jobs import CancelToken
from .training.batchnorm import batch_norm_layers


class _Moments:
    """Per-channel running sums of a layer's inputs, over every image and position."""

    def __init__(self, channels: int) -> None:
        self.count = 0
        self.sum = torch.zeros(channels, dtype=torch.float64)
        self.sum_sq = torch.zeros(channels, dtype=torch.float64)

    def add(self, x: torch.Tensor) -> None:
        dims = [0, *range(2, x.dim())]
        x64 = x.detach().double()
        self.count += x64.numel() // x64.shape[1]
        self.sum += x64.sum(dims).cpu()
        self.sum_sq += (x64 * x64).sum(dims).cpu()

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.sum / max(self.count, 1)
        return mean, (self.sum_sq / max(self.count, 1) - mean * mean).clamp_min(0.0)


def _checked(cancel: Optional[CancelToken], batches: Iterable[torch.Tensor],
             device: torch.device) -> Iterator[torch.Tensor]:
    for batch in batches:
        if cancel is not None:
            cancel.raise_if_cancelled()
        yield batch.to(device)


@torch.no_grad()
def batch_norm_input_moments(model: nn.Module, batches: Iterable[torch.Tensor],
                             device: Optional[torch.device] = None,
                             cancel: Optional[CancelToken] = None
                             ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(mean, variance) per channel of every batch-norm layer's input over `batches`, with the
    model in eval mode (its statistics unchanged)."""
    device = device or torch.device("cpu")
    layers = batch_norm_layers(model)
    moments = [_Moments(layer.num_features) for layer in layers]
    hooks = [layer.register_forward_pre_hook(lambda _m, inputs, acc=acc: acc.add(inputs[0]))
             for layer, acc in zip(layers, moments)]
    model.eval()
    try:
        for batch in _checked(cancel, batches, device):
            model(batch)
    finally:
        for hook in hooks:
            hook.remove()
    return [m.mean_var() for m in moments]


@torch.no_grad()
def align_batch_norm(model: nn.Module, source: Sequence[tuple[torch.Tensor, torch.Tensor]],
                     batches: Iterable[torch.Tensor], device: Optional[torch.device] = None,
                     cancel: Optional[CancelToken] = None) -> int:
    """Re-estimate `model`'s batch-norm statistics on `batches` (new images), aligned to the
    `source` moments (`batch_norm_input_moments` of the training images). In place; returns the
    number of images seen. A cancel (or any error) leaves the statistics as they were."""
    device = device or torch.device("cpu")
    layers = batch_norm_layers(model)
    if len(source) != len(layers):
        raise ValueError(f"{len(source)} source moments for {len(layers)} batch-norm layers")
    moments = [_Moments(layer.num_features) for layer in layers]

    def aligned_forward(layer: nn.modules.batchnorm._BatchNorm, acc: _Moments,
                        mean_s: torch.Tensor, var_s: torch.Tensor):
        sd_s = (var_s + layer.eps).sqrt().float().to(device)
        mean_s = mean_s.float().to(device)

        def forward(x: torch.Tensor) -> torch.Tensor:
            acc.add(x)
            dims = [0, *range(2, x.dim())]
            shape = [1, -1] + [1] * (x.dim() - 2)
            mean_b = x.mean(dims, keepdim=True)
            var_b = x.var(dims, keepdim=True, unbiased=False)
            z = (x - mean_b) / (var_b + layer.eps).sqrt() * sd_s.view(shape) + mean_s.view(shape)
            return nn.functional.batch_norm(z, layer.running_mean, layer.running_var,
                                            layer.weight, layer.bias, False, 0.0, layer.eps)
        return forward

    model.eval()
    for layer, acc, (mean_s, var_s) in zip(layers, moments, source):
        layer.forward = aligned_forward(layer, acc, mean_s, var_s)
    seen = 0
    try:
        for batch in _checked(cancel, batches, device):
            model(batch)
            seen += batch.shape[0]
    finally:
        for layer in layers:
            del layer.forward  # back to the class's forward
    for layer, acc, (mean_s, var_s) in zip(layers, moments, source):
        mean_t, var_t = acc.mean_var()
        sd_t, sd_s = (var_t + layer.eps).sqrt(), (var_s + layer.eps).sqrt()
        mean_i = layer.running_mean.double().cpu()
        sd_i = (layer.running_var.double().cpu() + layer.eps).sqrt()
        sd_new = sd_t * sd_i / sd_s
        layer.running_mean.copy_((mean_t - (mean_s - mean_i) * sd_t / sd_s).float())
        layer.running_var.copy_((sd_new * sd_new - layer.eps).clamp_min(0.0).float())
    return seen
