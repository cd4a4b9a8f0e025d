"""The Predict page's worker-thread job and the row data it produces (flags, CSV rows).

Qt-free: the job runs in a `TaskRunner` thread and reports through the job state it is given;
the CSV helpers write the same columns as `transfer-gui predict --csv`.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Iterable, Sequence

from transfer_gui.core.atomic import atomic_write
from transfer_gui.core.jobs import Progress
from transfer_gui.core.model_file import load_model
from transfer_gui.core.predict import Prediction, predict_images

TOP_K = 3
# The CLI's --csv columns, then the page's own: "uncertain" is "yes" below the page's confidence
# threshold, "no" above it, "" for an unreadable image.
CLI_COLUMNS = ["file", "predicted", "probability", *[f"top{i + 1}" for i in range(TOP_K)], "error"]
CSV_COLUMNS = [*CLI_COLUMNS, "uncertain"]


def predict_job(state, model_path: str, files: Sequence[str], batch_size: int,
                top_k: int = TOP_K) -> int:
    """Loads the model and predicts `files`, emitting `("rows", [Prediction, ...])` per batch.

    Runs in a worker thread.

    Args:
        state: The worker's job state (`emit`, `progress`, `cancel`).
        model_path: The model.pt file to load.
        files: The image files to predict, in row order.
        batch_size: How many images go through the model at once (and per "rows" event).
        top_k: How many of the most likely classes each prediction keeps.

    Returns:
        How many images were predicted.
    """
    state.progress(Progress(None, "Loading the model…", stage="load"))
    loaded = load_model(model_path)
    state.cancel.raise_if_cancelled()
    pending: list[Prediction] = []
    done = 0

    def flush() -> None:
        if pending:
            state.emit("rows", list(pending))
            pending.clear()

    def progress(p: Progress) -> None:  # called once after each batch: send that batch's rows
        flush()
        state.progress(p)

    for prediction in predict_images(loaded, list(files), top_k=top_k, batch_size=batch_size,
                                     progress=progress, cancel=state.cancel):
        pending.append(prediction)
        done += 1
    flush()
    return done


def flag_for(prediction: Prediction, threshold: float) -> str:
    """Classifies a prediction against a confidence threshold.

    Args:
        prediction: One row's prediction.
        threshold: Top-class probabilities below this are uncertain.

    Returns:
        "error" for an unreadable image, "uncertain" below the threshold, else "".
    """
    if prediction.error:
        return "error"
    return "uncertain" if prediction.probability < threshold else ""


def percent(q: float) -> str:
    """A probability as a whole percentage; "<1%" for a small but non-zero one."""
    return "<1%" if 0 < q < 0.005 else f"{q:.0%}"


def top_text(p: Prediction) -> str:
    """The most likely classes, each followed by its probability in brackets: "ゼロ (97%) ·
    1 (2%) · 2 (<1%)", so a number or a name in any script never runs into its percentage."""
    return " · ".join(f"{name} ({percent(q)})" for name, q in p.top)


def csv_row(p: Prediction, threshold: float, top_k: int = TOP_K) -> list[str]:
    """Returns one CSV row: the CLI's columns, then "uncertain" against `threshold`."""
    tops = [f"{c}:{q:.4f}" for c, q in p.top] + [""] * (top_k - len(p.top))
    flag = flag_for(p, threshold)
    uncertain = "" if flag == "error" else ("yes" if flag == "uncertain" else "no")
    return [p.path, p.predicted, f"{p.probability:.6f}" if not p.error else "",
            *tops[:top_k], p.error, uncertain]


def write_predictions_csv(path: str | os.PathLike, predictions: Iterable[Prediction],
                          threshold: float) -> Path:
    """Writes `predictions` as CSV (the CLI's --csv columns plus "uncertain"), atomically.

    Args:
        path: The file to write.
        predictions: The rows, in order.
        threshold: Top-class probabilities below this are marked uncertain.

    Returns:
        The path written.
    """
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    for p in predictions:
        writer.writerow(csv_row(p, threshold))
    data = text.getvalue().encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))
