"""Predict classes of new images with a saved model."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np
import torch

from .data import IMAGE_EXTENSIONS, load_image_array
from .data.walk import list_folder
from .errors import ModelFileError, UserError
from .jobs import CancelToken, Progress, ProgressCallback, no_progress
from .model_file import LoadedModel
from .ood import FLAG_WORDS, is_flagged, ood_block
from .inputs import InputPipeline


@dataclass(frozen=True)
class Prediction:
    """One image's result; `error` is set (and the rest empty) when the image could not be read.

    `unlike_score`: how unlike the training images it is (core/ood.py; above 1.0 it is flagged,
    `unlike_training`); both None for a model saved without the detector, or an unreadable image.
    """

    path: str
    predicted: str = ""
    probability: float = 0.0
    top: tuple[tuple[str, float], ...] = ()
    error: str = ""
    unlike_score: Optional[float] = None
    unlike_training: Optional[bool] = None


def csv_header(top_k: int) -> list[str]:
    """The columns of a predictions CSV (`transfer-gui predict --csv`; the Predict page adds its
    own after them)."""
    return ["file", "predicted", "probability", *[f"top{i + 1}" for i in range(top_k)], "error",
            "unlike_score", "unlike_training"]


def unlike_fields(p: Prediction) -> tuple[str, str]:
    """The "unlike the training data" score as text ("" without one) and the flag in words
    ("" when not flagged)."""
    if p.unlike_score is None:
        return "", ""
    return f"{p.unlike_score:.2f}", FLAG_WORDS if p.unlike_training else ""


def csv_fields(p: Prediction, top_k: int) -> list[str]:
    """One CSV row of `p`, in `csv_header(top_k)` order."""
    tops = [f"{c}:{q:.4f}" for c, q in p.top] + [""] * (top_k - len(p.top))
    return [p.path, p.predicted, f"{p.probability:.6f}" if not p.error else "", *tops[:top_k],
            p.error, *unlike_fields(p)]


def _images_below(folder: str, skipped: list[tuple[str, str]]) -> list[str]:
    """Image files below `folder` (hidden names left out, each folder once), sorted by path."""
    files: list[str] = []
    stack, seen = [folder], set()
    while stack:
        path = stack.pop()
        try:
            info = os.stat(path)
            if (info.st_dev, info.st_ino) in seen:
                skipped.append((path, "folder already searched (a link back to it)"))
                continue
            seen.add((info.st_dev, info.st_ino))
            listing = list_folder(path)
        except OSError as error:
            reason = (error.strerror or str(error)).lower()
            skipped.append((path, f"cannot open folder: {reason}"))
            continue
        files += [f for f in listing.files if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
        skipped += [(p, reason) for p, reason in listing.skipped
                    if os.path.splitext(p)[1].lower() in IMAGE_EXTENSIONS or "link" in reason]
        stack += [sub for _, sub in reversed(listing.folders)]
    return sorted(files)


def collect_images(inputs: Iterable[str | os.PathLike],
                   skipped: Optional[list[tuple[str, str]]] = None) -> list[str]:
    """Image files named directly, plus those found (recursively, sorted) in named folders.

    Args:
        inputs: Files and folders.
        skipped: When given, receives (path, reason) for each subfolder that cannot be read
            and each image-named entry that is not a regular file (a pipe, a broken link).

    Raises:
        UserError: An input does not exist.
    """
    files: list[str] = []
    found_skipped: list[tuple[str, str]] = []
    for item in inputs:
        path = str(Path(item))  # normalised as before: "dir/" and "./dir" give "dir"
        if os.path.isdir(path):
            files += _images_below(path, found_skipped)
        elif os.path.exists(path):
            files.append(path)
        else:
            raise UserError(f"No such file or folder: {path}", path=path)
    if skipped is not None:
        skipped += found_skipped
    return files


def predict_images(loaded: LoadedModel, files: Sequence[str], *, top_k: int = 3,
                   batch_size: int = 32, device: Optional[torch.device] = None,
                   progress: ProgressCallback = no_progress,
                   cancel: Optional[CancelToken] = None) -> Iterator[Prediction]:
    """Yield a Prediction per file, in order, batch by batch (so big folders stream)."""
    cancel = cancel or CancelToken()
    device = device or torch.device("cpu")
    model = loaded.model.to(device).eval()
    pipeline = InputPipeline(loaded.preprocessing)
    detector = ood_block(loaded)
    k = min(top_k, len(loaded.class_names))
    for start in range(0, len(files), batch_size):
        cancel.raise_if_cancelled()
        chunk = files[start:start + batch_size]
        arrays, good, errors = [], [], {}
        for path in chunk:
            try:
                arrays.append(load_image_array(path, loaded.preprocessing.resize_size))
                good.append(path)
            except Exception as exc:
                errors[path] = (getattr(exc, "reason", None) or str(exc)
                                or f"could not be read ({type(exc).__name__})")
        probs = np.zeros((0, len(loaded.class_names)))
        scores: list[Optional[float]] = [None] * len(arrays)
        if arrays:
            with torch.no_grad():  # the head's input is the detector's input: one pass
                features = model.backbone(pipeline.eval_batch(np.stack(arrays)).to(device))
                logits = model.head(features)
            probs = torch.softmax(logits.float(), 1).cpu().numpy()
            if detector is not None:
                scores = [float(v) for v in detector.scores(features.float().cpu().numpy())]
            if not np.isfinite(probs).all():  # damaged or overflowing weights: no prediction
                raise ModelFileError(f"{loaded.path} gave no valid probability (NaN or infinite "
                                     f"output) for the images from {good[0]}: the model file is "
                                     f"damaged. Train again or use another model.",
                                     path=loaded.path)
        rows = dict(zip(good, zip(probs, scores)))
        for path in chunk:
            if path in errors:
                yield Prediction(path, error=errors[path])
                continue
            p, score = rows[path]
            order = np.argsort(-p)[:k]
            top = tuple((loaded.class_names[i], float(p[i])) for i in order)
            yield Prediction(path, top[0][0], top[0][1], top, unlike_score=score,
                             unlike_training=is_flagged(score))
        done = start + len(chunk)
        progress(Progress(done / len(files), f"Predicted {done}/{len(files)} images", stage="predict"))
