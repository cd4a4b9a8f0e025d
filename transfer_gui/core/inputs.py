"""Turn stored images (square uint8 arrays at the backbone's resize size) into network inputs.

Evaluation takes the centre crop, as torchvision's Resize + CenterCrop does. Training may apply an
augmentation preset; every random choice comes from a `torch.Generator`, so a seed reproduces it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .models.spec import Preprocessing
from .training.config import AUGMENTATION_PRESETS


@dataclass(frozen=True)
class _Recipe:
    scale: tuple[float, float]  # fraction of the stored square's area the crop keeps
    ratio: tuple[float, float]  # crop aspect ratio range
    flip: bool
    jitter: float  # brightness / contrast / saturation strength, 0 for none


_RECIPES = {
    "light": _Recipe(scale=(0.6, 1.0), ratio=(3 / 4, 4 / 3), flip=True, jitter=0.0),
    "strong": _Recipe(scale=(0.3, 1.0), ratio=(3 / 4, 4 / 3), flip=True, jitter=0.3),
}


def check_preset(name: str) -> str:
    if name not in AUGMENTATION_PRESETS:
        raise ValueError(f"augmentation must be one of {', '.join(AUGMENTATION_PRESETS)}, not {name!r}")
    return name


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


def center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 3, S, S) -> (B, 3, size, size), the centre."""
    s = images.shape[-1]
    top = (s - size) // 2
    return images[..., top:top + size, top:top + size]


def _augment_one(image: torch.Tensor, size: int, recipe: _Recipe, gen: torch.Generator) -> torch.Tensor:
    """One uint8 (3, S, S) image -> augmented uint8 (3, size, size)."""
    # Imported here: torchvision costs ~1.5 s and ~160 MB to import, and only training augments.
    import torchvision.transforms.v2.functional as TF

    s = image.shape[-1]
    area = s * s
    for _ in range(10):  # RandomResizedCrop's sampling, inside the stored square
        target = area * _uniform(gen, *recipe.scale)
        aspect = math.exp(_uniform(gen, math.log(recipe.ratio[0]), math.log(recipe.ratio[1])))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= s and 0 < h <= s:
            break
    else:
        w = h = s
    top = int(torch.randint(0, s - h + 1, (), generator=gen))
    left = int(torch.randint(0, s - w + 1, (), generator=gen))
    out = TF.resized_crop(image, top, left, h, w, [size, size], antialias=True)
    if recipe.flip and float(torch.rand((), generator=gen)) < 0.5:
        out = TF.horizontal_flip(out)
    if recipe.jitter > 0:
        j = recipe.jitter
        out = TF.adjust_brightness(out, _uniform(gen, 1 - j, 1 + j))
        out = TF.adjust_contrast(out, _uniform(gen, 1 - j, 1 + j))
        out = TF.adjust_saturation(out, _uniform(gen, 1 - j, 1 + j))
    return out


class InputPipeline:
    """Stored uint8 images -> normalised float inputs for one backbone's preprocessing."""

    def __init__(self, preprocessing: Preprocessing) -> None:
        self.pre = preprocessing
        self._mean = torch.tensor(preprocessing.mean).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(preprocessing.std).view(1, 3, 1, 1) * 255.0

    @staticmethod
    def to_chw(arrays: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
        """(B, S, S, 3) uint8 arrays -> (B, 3, S, S) uint8 tensor."""
        batch = np.ascontiguousarray(np.stack(arrays) if not isinstance(arrays, np.ndarray) else arrays)
        if not batch.flags.writeable:  # decoded images may be read-only views; torch wants writable
            batch = batch.copy()
        return torch.from_numpy(batch).permute(0, 3, 1, 2)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) -> float32, (x - mean) / std with mean, std given on [0, 1]."""
        return (images.float() - self._mean) / self._std

    def eval_batch(self, arrays) -> torch.Tensor:
        return self.normalise(center_crop(self.to_chw(arrays), self.pre.input_size).contiguous())

    def train_batch(self, arrays, preset: str, gen: torch.Generator) -> torch.Tensor:
        if preset == "none":
            return self.eval_batch(arrays)
        recipe = _RECIPES[check_preset(preset)]
        images = self.to_chw(arrays)
        out = torch.stack([_augment_one(img, self.pre.input_size, recipe, gen) for img in images])
        return self.normalise(out)
