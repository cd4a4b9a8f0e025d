"""The Predict page's "Compare with new images…" and "Recalibrate…" jobs (core/shift_compare.py,
core/recalibrate.py). Backbone features come from the app's process-wide feature cache, so the
training images' features a feature-extraction run computed are not computed again."""

from __future__ import annotations

from typing import Optional

from transfer_gui.core.features import default_feature_cache
from transfer_gui.core.recalibrate import Recalibration, recalibrate_to_folder
from transfer_gui.core.shift import ShiftReport
from transfer_gui.core.shift_compare import compare_new_images


def shift_job(state, model_path: str, new_dir: str, seed: int = 0) -> ShiftReport:
    """Compares the images in `new_dir` with the training images of the run holding
    `model_path`, reporting through `state.progress` and stopping on `state.cancel`.

    Raises:
        UserError: The model has no run folder, its dataset is gone, or `new_dir` has no images.
    """
    return compare_new_images(model_path, new_dir, seed=seed, cache=default_feature_cache(),
                              progress=state.progress, cancel=state.cancel)


def recalibrate_job(state, model_path: str, new_dir: str, out: str,
                    labelled: Optional[str] = None, overwrite: bool = False) -> Recalibration:
    """Recalibrates the model to the images in `new_dir` and saves it as `out` (a new file; see
    `recalibrate_to_folder`), scoring both models on `labelled` when given.

    Raises:
        UserError: Bad input, named in the message (`out` in a run folder, no batch norm, ...).
    """
    return recalibrate_to_folder(model_path, new_dir, out, labelled=labelled,
                                 overwrite=overwrite, progress=state.progress,
                                 cancel=state.cancel)
