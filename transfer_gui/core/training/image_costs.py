"""Measure what one image costs on this computer for a backbone: decoding, a forward pass and a
training step (time_estimate.planned_seconds turns them into a run's time).

About a second or two on a 2-core laptop for EfficientNet-Lite0: a few of the dataset's own images
are decoded (their size sets the decode cost) and one batch of them goes through a randomly
initialised copy of the network (the same work as the pretrained one, and nothing to download).
"""

from __future__ import annotations

import time
from typing import Optional, Sequence

import numpy as np
import torch

from ..data import load_image_array
from ..data.formats import ImageReadError
from ..inputs import InputPipeline
from ..jobs import CancelToken
from ..models import get_backbone, make_model
from .setup import pick_device
from .time_estimate import ImageCosts

SAMPLE_IMAGES = 4  # also the CPU micro-batch of fine-tuning (plans.CPU_MICRO_BATCH)
DECODE_GUESS = 0.01  # seconds, when none of the sampled files can be decoded


def _timed(function, device: torch.device) -> float:
    started = time.perf_counter()
    function()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def measure_image_costs(backbone: str, files: Sequence[str], device: str = "auto",
                        cancel: Optional[CancelToken] = None) -> ImageCosts:
    """Per-image seconds of decoding, inference and a training step for `backbone` on
    `device`, measured on up to SAMPLE_IMAGES of `files`."""
    cancel = cancel or CancelToken()
    spec = get_backbone(backbone)
    size = spec.preprocessing.resize_size
    arrays, decode_seconds = [], 0.0
    step = max(len(files) // SAMPLE_IMAGES, 1)
    for path in list(files)[::step][:SAMPLE_IMAGES]:
        started = time.perf_counter()
        try:
            arrays.append(load_image_array(path, size))
        except ImageReadError:
            continue
        decode_seconds += time.perf_counter() - started
    decode = decode_seconds / len(arrays) if arrays else DECODE_GUESS
    while len(arrays) < SAMPLE_IMAGES:
        arrays.append(arrays[0] if arrays else np.zeros((size, size, 3), np.uint8))
    cancel.raise_if_cancelled()

    target = pick_device(device)
    model = make_model(spec, 2, pretrained=False, dropout=0.0).to(target)
    inputs = InputPipeline(spec.preprocessing).eval_batch(np.stack(arrays)).to(target)

    def forward() -> None:
        with torch.no_grad():
            model(inputs)

    def train_step() -> None:
        model.zero_grad(set_to_none=True)
        model(inputs).logsumexp(1).mean().backward()

    model.eval()
    forward()  # the first pass pays one-off set-up
    cancel.raise_if_cancelled()
    forward_seconds = _timed(forward, target)
    model.train()
    train_step()
    cancel.raise_if_cancelled()
    train_seconds = _timed(train_step, target)
    return ImageCosts(decode=decode, forward=forward_seconds / SAMPLE_IMAGES,
                      train=train_seconds / SAMPLE_IMAGES)
