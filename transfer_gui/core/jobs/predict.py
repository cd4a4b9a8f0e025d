"""The Predict page's job: predict a list of image files with a saved model, batch by batch."""

from __future__ import annotations

from typing import Sequence

from transfer_gui.core.jobs import Progress
from transfer_gui.core.jobs.events import PredictedRows
from transfer_gui.core.model_file import load_model
from transfer_gui.core.predict import Prediction, predict_images

TOP_K = 3  # how many of the most likely classes a prediction keeps


def predict_job(state, model_path: str, files: Sequence[str], batch_size: int,
                top_k: int = TOP_K) -> int:
    """Loads the model and predicts `files`, emitting `PredictedRows([Prediction, ...])` per batch.

    Args:
        state: The job state (`emit`, `progress`, `cancel`).
        model_path: The model.pt file to load.
        files: The image files to predict, in row order.
        batch_size: How many images go through the model at once (and per PredictedRows event).
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
            state.emit(PredictedRows(list(pending)))
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
