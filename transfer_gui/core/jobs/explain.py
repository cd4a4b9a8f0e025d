"""The CAM panel's job: explain images with a saved model, with display-sized copies for drawing."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from transfer_gui.core.cam.explain import Explanation, explain_image
from transfer_gui.core.cam.overlay import to_original
from transfer_gui.core.jobs.events import ExplainFailed, Explained
from transfer_gui.core.model_file import LoadedModel, load_model

DISPLAY_MAX = 900  # px: the longer side of the images the panel keeps for drawing

_models: dict[tuple[str, int], LoadedModel] = {}
_lock = threading.Lock()  # one CAM at a time: hooks on a shared model must not interleave


def loaded_model(path: str) -> LoadedModel:
    """The model at `path`, loaded once per file version."""
    key = (str(path), Path(path).stat().st_mtime_ns if Path(path).exists() else 0)
    with _lock:
        if key not in _models:
            _models.clear()
            _models[key] = load_model(path)
        return _models[key]


@dataclass
class PanelExplanation:
    """An Explanation plus display-sized copies of the image and map for fast redrawing."""

    explanation: Explanation
    display_image: np.ndarray  # uint8 (h, w, 3), longer side <= DISPLAY_MAX
    display_map: np.ndarray  # float32 (h, w) in [0, 1]
    display_seen: Optional[np.ndarray] = None  # bool (h, w): inside the crop the model saw


def seen_region(size: tuple[int, int], preprocessing) -> np.ndarray:
    """(height, width) bool mask of the part of a `size` = (width, height) picture that the
    model's centre crop keeps (the geometry `to_original` undoes)."""
    crop = preprocessing.input_size
    return to_original(np.ones((crop, crop), np.float32), size, preprocessing) > 0.5


def for_display(explanation: Explanation, preprocessing=None) -> PanelExplanation:
    """Display-sized copies; with the model's `preprocessing`, also the region it saw."""
    image = explanation.image
    h, w = image.shape[:2]
    scale = min(1.0, DISPLAY_MAX / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR)) \
        if scale < 1 else image
    cam = Image.fromarray(explanation.map_original.astype(np.float32), mode="F")
    small_map = np.asarray(cam.resize(size, Image.Resampling.BILINEAR), dtype=np.float32) \
        if scale < 1 else explanation.map_original.astype(np.float32)
    seen = seen_region(size, preprocessing) if preprocessing is not None else None
    return PanelExplanation(explanation, np.ascontiguousarray(small), np.clip(small_map, 0, 1),
                            seen)


def explain_job(state, model_path: str, paths: Sequence[str], method: str,
                target: Optional[int | str], layer: Optional[str], trust: bool = False,
                member: Optional[int] = None) -> int:
    """Explain each image; emits Explained(PanelExplanation) or ExplainFailed(path, reason).
    `trust` adds each map's deletion test (Explanation.trust, core/cam/trust.py). An ensemble
    has no map of its own: `member` says whose map (its index; the first when None)."""
    model = loaded_model(model_path)
    members = getattr(model, "members", None)  # core/ensemble
    if members:
        model = members[member or 0]
    done = 0
    for path in paths:
        state.cancel.raise_if_cancelled()
        try:
            with _lock:
                explanation = explain_image(model, path, method=method, target=target, layer=layer,
                                            trust=trust)
        except Exception as exc:  # a bad image or choice: report it, go on with the others
            state.emit(ExplainFailed(path, getattr(exc, "reason", None) or str(exc)))
            continue
        state.emit(Explained(for_display(explanation, model.spec.preprocessing)))
        done += 1
    return done
