"""The Results page's cross-validation job.

It scores feature extraction with a run's backbone on every labelled image of the run's dataset
by stratified k-fold cross-validation (core/crossval.py). Backbone features come from the app's
process-wide feature cache, so after a feature-extraction run it takes seconds.
"""

from __future__ import annotations

from transfer_gui.core.crossval import CrossValidation, cross_validate
from transfer_gui.core.features import default_feature_cache


def crossval_job(state, data_dir: str, backbone: str, folds: int, seed: int,
                 class_weights: str, leave_out_empty_classes: bool = False) -> CrossValidation:
    """Cross-validates, reporting through `state.progress` and stopping on `state.cancel`.

    Args:
        state: The worker's job state (`progress`, `cancel`).
        data_dir: The dataset folder (its train, val and test images are pooled).
        backbone: Registry name of the backbone.
        folds: Number of stratified folds (at least 2).
        seed: Seed of the fold assignment.
        class_weights: "auto" or "none", as in the run's settings.
        leave_out_empty_classes: As in the run's settings (its scan left empty classes out).

    Raises:
        DatasetError: A class has fewer images than folds (the message says what to do).
    """
    return cross_validate(data_dir, backbone, folds=folds, seed=seed, class_weights=class_weights,
                          leave_out_empty_classes=leave_out_empty_classes,
                          cache=default_feature_cache(), allow_download=False,
                          progress=state.progress, cancel=state.cancel)
