"""Generated image families unlike the photo-like training sets of tests/synthetic.py: line
drawings on white paper and random noise (the "unlike the training data" tests and bench)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def make_drawings(folder: Path, n: int, size: int = 160, seed: int = 1) -> list[str]:
    """Black line drawings (lines, ellipses, boxes) on white paper."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        img = Image.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(3, 9))):
            (x0, x1), (y0, y1) = np.sort(rng.integers(0, size, (2, 2)), axis=1)
            width, kind = int(rng.integers(1, 4)), int(rng.integers(3))
            if kind == 0:
                draw.line([(x0, y0), (x1, y1)], fill="black", width=width)
            elif kind == 1:
                draw.ellipse([x0, y0, x1, y1], outline="black", width=width)
            else:
                draw.rectangle([x0, y0, x1, y1], outline="black", width=width)
        files.append(str(folder / f"drawing_{i:03d}.png"))
        img.save(files[-1])
    return files


def make_noise(folder: Path, n: int, size: int = 160, seed: int = 2) -> list[str]:
    """Uniform random pixels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        files.append(str(folder / f"noise_{i:03d}.png"))
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(files[-1])
    return files
