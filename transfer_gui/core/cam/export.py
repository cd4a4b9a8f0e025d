"""Write explanations to files: `<stem>_cam.png` overlays and optional `<stem>_cam.npy` maps."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..atomic import atomic_write
from .explain import Explanation
from .overlay import DEFAULT_COLORMAP, overlay


def output_stems(paths: Sequence[str]) -> list[str]:
    """One distinct output stem per input file: its own stem, or `stem-2`, `stem-3`, ... when an
    earlier file already took it (same name in other folders). Case-insensitive, so the names
    stay distinct on Windows and macOS too."""
    taken: set[str] = set()
    stems = []
    for path in paths:
        base = Path(path).stem or "image"
        stem, n = base, 1
        while stem.lower() in taken:
            n += 1
            stem = f"{base}-{n}"
        taken.add(stem.lower())
        stems.append(stem)
    return stems


def save_explanation(explanation: Explanation, out_dir: str | Path, stem: str, *,
                     colormap: str = DEFAULT_COLORMAP, alpha: float = 0.5,
                     raw: bool = False) -> list[Path]:
    """Write the overlay PNG at the explanation's resolution (the original, shrunk to at most
    OVERLAY_MAX_SIDE pixels on its longer side) and with `raw` the map as .npy, (height, width)
    float32 in [0, 1]; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{stem}_cam.png"
    picture = overlay(explanation.image, explanation.map_original, alpha=alpha, colormap=colormap)
    atomic_write(png, lambda f: Image.fromarray(picture).save(f, format="PNG"))  # never half a file
    written = [png]
    if raw:
        npy = out_dir / f"{stem}_cam.npy"
        values = np.clip(explanation.map_original, 0.0, 1.0).astype(np.float32)
        atomic_write(npy, lambda f: np.save(f, values))
        written.append(npy)
    return written
