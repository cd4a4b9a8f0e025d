""""Compare with new images": a model (or its run folder) and a folder of new, unlabelled images
in, a `ShiftReport` out (core/shift.py does the statistics).

The reference is the sample of training features stored in the model file (core/ood.py), or for
older models a seeded random sample of the run's training images, rescanned as the run recorded
them (`Run.dataset`). Features come from the model's own backbone (`core/model_features.py`), so
the test compares what the head sees. The new images are grouped by the class the model predicts
for them; the model's "unlike the training data" score, when it has one, gives the share flagged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import UserError
from .features import FeatureCache
from .jobs import CancelToken, Progress, ProgressCallback, StageProgress, no_progress
from .model_file import LoadedModel, load_model
from .run import MODEL, Run
from .shift import MAX_PER_SIDE, PERMUTATIONS, ShiftReport, compare_features, sample_rows


def open_model_and_run(model_or_run: str | os.PathLike) -> tuple[LoadedModel, Optional[Run]]:
    """The model of `model_or_run` (a model file or a run folder) and the run folder holding it
    (None for a model file outside any run)."""
    loaded = load_model(model_or_run)
    path = Path(model_or_run)
    folder = path if path.is_dir() else path.parent
    run = Run.open(folder) if Run.is_run_folder(folder) and (folder / MODEL).is_file() else None
    return loaded, run


def require_run(run: Optional[Run], loaded: LoadedModel, what: str) -> Run:
    """`run`, or a UserError saying that `what` needs the model's run folder."""
    if run is None:
        raise UserError(f"{what} needs the training images, so give the run folder the model "
                        f"was trained in (the folder holding its config.json), not only "
                        f"{loaded.path}.", path=loaded.path)
    return run


def training_sample(run: Run, loaded: LoadedModel, cap: int = MAX_PER_SIDE, seed: int = 0,
                    progress: ProgressCallback = no_progress,
                    cancel: Optional[CancelToken] = None) -> tuple[list[str], list[int], int]:
    """A seeded random sample of at most `cap` of the run's training images.

    Returns:
        (files, labels as indices into loaded.class_names, how many training images there are).
    """
    scan = run.dataset(progress=progress, cancel=cancel)
    index = {name: i for i, name in enumerate(loaded.class_names)}
    train = [s for s in scan.split("train") if scan.class_names[s.label] in index]
    if len(train) < 2:
        raise UserError(f"The run's dataset {scan.root} has fewer than 2 training images of the "
                        f"model's classes left.", path=scan.root)
    rows = sample_rows(len(train), cap, np.random.default_rng(seed))
    return ([train[i].path for i in rows], [index[scan.class_names[train[i].label]] for i in rows],
            len(train))


def new_image_files(folder: str | os.PathLike, skipped: Optional[list[tuple[str, str]]] = None,
                    what: str = "The folder of new images") -> list[str]:
    """The image files below `folder` (recursively), or a UserError naming the folder."""
    from .predict import collect_images

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{what} {folder} is not a folder: give a folder of images.",
                        path=str(folder))
    files = collect_images([folder], skipped)
    if not files:
        raise UserError(f"{what} {folder} holds no image files.", path=str(folder))
    return files


def _features(loaded: LoadedModel, files: list[str], recipe: str, cache: Optional[FeatureCache],
              progress: ProgressCallback, cancel: Optional[CancelToken]
              ) -> tuple[np.ndarray, list[int], list[tuple[str, str]]]:
    """(features of the readable files, their positions in `files`, (path, reason) of the rest)."""
    from .model_features import model_features

    found = model_features(loaded, files, cache=cache, recipe=recipe, progress=progress,
                           cancel=cancel)
    good = [i for i in range(len(files)) if i not in found.failures]
    bad = [(files[i], reason) for i, reason in sorted(found.failures.items())]
    return found.center(good), good, bad


def training_reference(loaded: LoadedModel, run: Optional[Run], recipe: str, *,
                       max_per_side: int = MAX_PER_SIDE, seed: int = 0,
                       cache: Optional[FeatureCache] = None,
                       progress: ProgressCallback = no_progress,
                       cancel: Optional[CancelToken] = None
                       ) -> tuple[np.ndarray, np.ndarray, int]:
    """Features and labels of (at most `max_per_side`) training images, and how many there
    are: the sample stored in the model file when it has one (core/ood.py), else computed from
    the run's training images with the model's backbone.

    Raises:
        UserError: Neither a stored sample nor a run folder whose dataset is there.
    """
    from .ood import reference_features

    stored = reference_features(loaded)
    if stored is not None and len(stored[0]) >= 2:
        features, labels = stored
        rows = sample_rows(len(features), max_per_side, np.random.default_rng(seed))
        return features[rows], labels[rows], len(features)
    run = require_run(run, loaded, "Comparing with new images")
    files, labels, total = training_sample(run, loaded, max_per_side, seed,
                                           StageProgress(progress, 0.0, 0.1, "scan"), cancel)
    x, good, _ = _features(loaded, files, recipe, cache,
                           StageProgress(progress, 0.1, 1.0, "features"), cancel)
    return x, np.asarray([labels[i] for i in good]), total


def compare_new_images(model_or_run: str | os.PathLike, new_dir: str | os.PathLike, *,
                       permutations: int = PERMUTATIONS, seed: int = 0,
                       max_per_side: int = MAX_PER_SIDE, cache: Optional[FeatureCache] = None,
                       progress: ProgressCallback = no_progress,
                       cancel: Optional[CancelToken] = None) -> ShiftReport:
    """How far the images in `new_dir` are from the model's training images.

    Args:
        model_or_run: A model file that stores a sample of its training features, or a run
            folder (or the model.pt inside one).
        new_dir: A folder of new images (searched recursively; no labels needed).
        permutations, seed, max_per_side: As in `core.shift.mmd_test`; the same seed samples
            the same images.
        cache: Feature cache (default: the process-wide one).

    Raises:
        UserError: A bad model, no run folder, a missing dataset, or no readable new images.
    """
    from .model_features import head_probabilities, model_feature_recipe
    from .ood import is_flagged, ood_block

    cancel = cancel or CancelToken()
    loaded, run = open_model_and_run(model_or_run)
    skipped: list[tuple[str, str]] = []
    all_new = new_image_files(new_dir, skipped)
    new_files = [all_new[i] for i in
                 sample_rows(len(all_new), max_per_side, np.random.default_rng(seed))]
    recipe = model_feature_recipe(loaded)
    ref_x, ref_labels, ref_total = training_reference(
        loaded, run, recipe, max_per_side=max_per_side, seed=seed, cache=cache,
        progress=StageProgress(progress, 0.0, 0.5, "features"), cancel=cancel)
    new_x, _, unreadable = _features(loaded, new_files, recipe, cache,
                                     StageProgress(progress, 0.5, 0.95, "features"), cancel)
    if len(new_x) < 2:
        raise UserError(f"Fewer than 2 of the images in {new_dir} could be read.",
                        path=str(new_dir))
    cancel.raise_if_cancelled()
    predicted = head_probabilities(loaded, new_x).argmax(1)
    overall, per_class = compare_features(ref_x, ref_labels, new_x, predicted,
                                          loaded.class_names, permutations=permutations,
                                          seed=seed, max_per_side=max_per_side)
    detector = ood_block(loaded)
    flagged = (float(np.mean([is_flagged(s) for s in detector.scores(new_x)]))
               if detector is not None else None)
    progress(Progress(1.0, f"Compared {len(new_x)} new images with {len(ref_x)} training "
                      f"images", stage="compare"))
    return ShiftReport(overall, per_class, new_images=len(all_new), compared_new=len(new_x),
                       reference_images=ref_total, compared_reference=len(ref_x),
                       capped=len(all_new) > max_per_side or ref_total > max_per_side,
                       unreadable=skipped + unreadable, flagged_share=flagged)
