"""What the doctor reads from the pixels: a small grey thumbnail per picture (for finding
copies, see similar.py) and, from it, whether the picture is nearly empty."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image

from ..data.formats import open_image_rgb
from .similar import THUMB_SIDE

_DECODE_SIDE = 4 * THUMB_SIDE  # JPEG draft / PNG band decoding shrink to about this first
UNIFORM_STD = 3.0  # grey levels (0-255) of the thumbnail: below this the picture is flat
DARK_MEAN = 20.0
BRIGHT_MEAN = 235.0


def thumbnail(path: str) -> np.ndarray:
    """The whole picture (upright, not cropped) as THUMB_SIDE x THUMB_SIDE grey box averages,
    flattened float32 0..255. Raises ImageReadError for a file that cannot be decoded."""
    rgb = open_image_rgb(path, max_side=_DECODE_SIDE)
    grey = rgb.convert("L").resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32).ravel()


@dataclass(frozen=True)
class EmptyLook:
    """Why a picture looks nearly empty, with the figure behind it."""

    reason: str  # "almost uniform", "very dark" or "very bright"
    detail: str


def empty_look(thumb: np.ndarray) -> Optional[EmptyLook]:
    """Nearly empty pictures: almost one grey level, or very dark, or very bright on average."""
    mean, std = float(thumb.mean()), float(thumb.std())
    if std < UNIFORM_STD:
        return EmptyLook("almost uniform", f"brightness varies by only {std:.1f} of 255")
    if mean < DARK_MEAN:
        return EmptyLook("very dark", f"average brightness {mean:.0f} of 255")
    if mean > BRIGHT_MEAN:
        return EmptyLook("very bright", f"average brightness {mean:.0f} of 255")
    return None
