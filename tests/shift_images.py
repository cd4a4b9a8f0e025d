"""Generated images for the dataset-shift tests and bench/shift.py: the same classes in two domains.

The class is the shape (disc, square, triangle), drawn in a random colour. The "source" domain
draws it sharp on blotchy grey-brown noise; the "shifted" domain draws the same classes with a
warm colour cast, a blur and a different background (smooth coloured stripes), as images from
another camera or microscope would differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageFilter

SHAPES = ("disc", "square", "triangle")
SOURCE, SHIFTED = "source", "shifted"
CAST = np.array([1.25, 1.0, 0.65])  # the shifted domain's colour cast (R, G, B gains)
BLUR_RADIUS = 2.5  # pixels at 128 px


def _noise_background(rng: np.random.Generator, size: int) -> np.ndarray:
    coarse = rng.normal(0, 1, (size // 16 + 2, size // 16 + 2, 3))
    blotches = np.kron(coarse, np.ones((16, 16, 1)))[:size, :size]
    base = rng.uniform(90, 160) + 25 * blotches.mean(axis=2, keepdims=True) + 8 * blotches
    return base + rng.normal(0, 18, (size, size, 3))


def _stripe_background(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size].astype(float)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(18, 40)
    wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    low, high = rng.uniform(40, 110, 3), rng.uniform(150, 230, 3)
    return low + (high - low) * (0.5 + 0.5 * wave)[..., None]


def _shape_mask(shape: str, rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    r = int(rng.integers(size // 6, size // 3.5))
    cx, cy = (int(v) for v in rng.integers(r + 2, size - r - 2, 2))
    if shape == "disc":
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    if shape == "square":
        return (abs(xx - cx) <= r * 0.85) & (abs(yy - cy) <= r * 0.85)
    # an upward triangle inside the circle of radius r
    top, base = cy - r, cy + r * 0.7
    half = (yy - top) / max(base - top, 1) * r * 0.95
    return (yy >= top) & (yy <= base) & (abs(xx - cx) <= half)


def render(shape: str, domain: str, rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """One uint8 (size, size, 3) image of `shape` in `domain` (SOURCE or SHIFTED)."""
    img = (_noise_background if domain == SOURCE else _stripe_background)(rng, size)
    mask = _shape_mask(shape, rng, size)
    colour = rng.uniform(30, 230, 3)
    img[mask] = colour + rng.normal(0, 8, (int(mask.sum()), 3))
    if domain == SHIFTED:
        img = img * CAST + 15
    pixels = np.clip(img, 0, 255).astype(np.uint8)
    if domain == SHIFTED:
        pixels = np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(BLUR_RADIUS)))
    return pixels


def make_domain_folder(root: Path, domain: str, per_class: int, seed: int,
                       shapes: Sequence[str] = SHAPES, size: int = 128) -> Path:
    """ROOT/<shape>/<shape>_NNN.png, `per_class` images of each shape in `domain`."""
    rng = np.random.default_rng(seed)
    for shape in shapes:
        folder = Path(root) / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(render(shape, domain, rng, size)).save(folder / f"{shape}_{i:03d}.png")
    return Path(root)


def shift_photo(pixels: np.ndarray) -> np.ndarray:
    """A photo (uint8 HxWx3) as the shifted domain would show it: the same colour cast, and a
    blur scaled to the picture's size (BLUR_RADIUS at 128 px)."""
    img = np.clip(pixels.astype(float) * CAST + 15, 0, 255).astype(np.uint8)
    radius = BLUR_RADIUS * min(pixels.shape[:2]) / 128
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius)))
