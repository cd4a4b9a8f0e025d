"""How much to trust one image's map: does hiding what it highlights lower the class probability
more than hiding a random area of the same size?

A deletion test on one image. The top `share` (20%) of the map's pixels are replaced by a
blurred copy of the image; as a control the same-shaped area is moved to random places
(`RANDOM_AREAS` circular shifts of that mask, a fixed seed) and the probabilities averaged.
Blurring, not a flat fill, keeps the image's colours and brightness roughly as they were, so a
drop means the hidden detail mattered, not that a strange patch appeared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .compute import eval_mode

SHARE = 0.2
"""The fraction of the map's pixels hidden."""
RANDOM_AREAS = 8
"""Random placements of the same-shaped area whose probabilities are averaged."""
BLUR_FRACTION = 1 / 8
"""Gaussian blur sigma as a fraction of the input's side (20 px at 160, 28 px at 224)."""
MARGIN = 0.05
"""The highlighted area must lower the probability this much more than a random area (5 points)
for the map to count as pointing at what the model uses."""


@dataclass(frozen=True)
class TrustCheck:
    """The deletion test of one map.

    Attributes:
        probability: The class probability on the image as it is.
        hidden: With the map's top `share` blurred out.
        random: With a same-shaped area at random places blurred out (mean over the places).
        share: The fraction of pixels hidden.
    """

    probability: float
    hidden: float
    random: float
    share: float = SHARE

    @property
    def beats_random(self) -> bool:
        """True when hiding the highlighted area lowers the probability at least MARGIN more
        than hiding a random area."""
        return (self.probability - self.hidden) >= (self.probability - self.random) + MARGIN

    def sentence(self, class_name: str) -> str:
        """E.g. "Hiding the highlighted area lowers 'ants' from 85% to 31% (a random area:
        80%)." plus a warning when the map does no better than a random area."""
        before, after = f"{self.probability:.0%}", f"{self.hidden:.0%}"
        if before == after:
            change = f"leaves '{class_name}' at {before}"
        else:
            verb = "lowers" if self.hidden < self.probability else "raises"
            change = f"{verb} '{class_name}' from {before} to {after}"
        text = f"Hiding the highlighted area {change} (a random area: {self.random:.0%})."
        if not self.beats_random:
            text += (" Hiding a random area does as much, so this map does not show what the "
                     "model used here: do not read much into it.")
        return text


def blur(inputs: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), edges reflected (replicated for tiny images)."""
    radius = max(1, int(round(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=inputs.dtype, device=inputs.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = inputs.shape[1]
    h, w = inputs.shape[-2:]
    mode = "reflect" if radius < min(h, w) else "replicate"
    out = F.pad(inputs, (radius, radius, 0, 0), mode=mode)
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode=mode)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def top_mask(cam: np.ndarray, share: float = SHARE) -> np.ndarray:
    """(H, W) bool: exactly round(share * H * W) pixels, the map's highest (ties: raster order)."""
    flat = np.asarray(cam, np.float64).ravel()
    count = int(round(share * flat.size))
    mask = np.zeros(flat.size, bool)
    mask[np.argsort(-flat, kind="stable")[:count]] = True
    return mask.reshape(np.shape(cam))


def random_masks(mask: np.ndarray, count: int = RANDOM_AREAS, seed: int = 0) -> np.ndarray:
    """(count, H, W): `mask` shifted circularly by seeded random offsets (same shape and size)."""
    rng = np.random.default_rng(seed)
    h, w = mask.shape
    return np.stack([np.roll(mask, (int(rng.integers(h)), int(rng.integers(w))), axis=(0, 1))
                     for _ in range(count)])


def trust_check(model: nn.Module, inputs: torch.Tensor, cam: np.ndarray, target: int, *,
                share: float = SHARE, random_areas: int = RANDOM_AREAS,
                seed: int = 0) -> Optional[TrustCheck]:
    """The deletion test for one image.

    Args:
        model: The classifier (run in eval mode, without gradients; its modes are restored).
        inputs: (1, 3, H, W) or (3, H, W) network input, already normalised.
        cam: (H, W) map at the input's resolution (CamResult.maps[i], Explanation.map_input).
        target: The class whose probability is measured.
        share: Fraction of the pixels hidden.
        random_areas: Random placements averaged for the control.
        seed: Seed of the random placements.

    Returns:
        The TrustCheck, or None when the map is all zero (nothing highlighted to hide).
    """
    x = inputs if inputs.ndim == 4 else inputs[None]
    if x.shape[0] != 1 or tuple(cam.shape) != tuple(x.shape[-2:]):
        raise ValueError(f"trust_check takes one image and its map at the input's size, not "
                         f"{tuple(inputs.shape)} and {tuple(cam.shape)}.")
    if not np.any(np.asarray(cam) > 0):
        return None
    hidden = top_mask(cam, share)
    masks = np.concatenate([hidden[None], random_masks(hidden, random_areas, seed)])
    chosen = torch.from_numpy(masks)[:, None].to(x.device)
    x = x.detach()
    with torch.no_grad(), eval_mode(model):
        blurred = blur(x, max(1.0, BLUR_FRACTION * x.shape[-1]))
        batch = torch.cat([x, torch.where(chosen, blurred, x)])
        probs = torch.softmax(model(batch).float(), dim=1)[:, target].cpu().numpy()
    return TrustCheck(float(probs[0]), float(probs[1]), float(probs[2:].mean()), share)
