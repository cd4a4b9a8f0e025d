""""Recalibrate to these images": a batch-norm model adapted to a folder of new, unlabelled images
(AdaBN aligned to the training images, core/batchnorm_align.py), saved as a new model file.

The original model is never changed or overwritten, and nothing is written into a run folder (only
training writes there). With a few labelled new images (a folder of class subfolders) both models
are scored on them and only the better one is kept: the recalibrated one is saved only when it
scores higher.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np
import torch

from .batchnorm_align import align_batch_norm, batch_norm_input_moments
from .errors import UserError
from .jobs import CancelToken, Progress, ProgressCallback, StageProgress, no_progress
from .model_file import LoadedModel
from .models import Preprocessing, TransferModel
from .training.batchnorm import batch_norm_layers

BATCH_SIZE = 32  # images per batch of the statistics pass (AdaBN normalises by batch)
MIN_NEW_IMAGES = 8  # fewer new images give statistics too noisy to use
MAX_IMAGES = 500  # images per side (a seeded random sample of more), as in core/shift.py


@dataclass
class Recalibration:
    """What "Recalibrate" did.

    Attributes:
        saved: The new model file, or None when the original scored at least as well on the
            labelled images (nothing was written).
        new_images, reference_images: Images the statistics were taken from (new / training).
        labelled_images: Labelled new images both models were scored on (0: none given).
        original_accuracy, recalibrated_accuracy: Their scores there (None without labels).
        unreadable: (path, reason) of new or labelled images that could not be read.
    """

    saved: Optional[str]
    new_images: int
    reference_images: int
    labelled_images: int = 0
    original_accuracy: Optional[float] = None
    recalibrated_accuracy: Optional[float] = None
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"Recalibrated the batch-norm statistics to {self.new_images} new images "
                f"(aligned to {self.reference_images} training images).")
        if self.labelled_images:
            text += (f" On your {self.labelled_images} labelled images the original model was "
                     f"right on {self.original_accuracy:.1%}, the recalibrated one on "
                     f"{self.recalibrated_accuracy:.1%}.")
        if self.saved:
            text += f" Saved the recalibrated model as {self.saved}; the original is unchanged."
            if not self.labelled_images:
                text += (" Its accuracy on these images is not known: check a few predictions, "
                         "or give a few labelled images to compare both models.")
        else:
            text += " The original model did at least as well, so it is kept and nothing was saved."
        return text

    def to_dict(self) -> dict:
        return {"saved": self.saved, "kept": "recalibrated" if self.saved else "original",
                "new_images": self.new_images, "reference_images": self.reference_images,
                "labelled_images": self.labelled_images,
                "original_accuracy": self.original_accuracy,
                "recalibrated_accuracy": self.recalibrated_accuracy,
                "unreadable": [{"path": p, "reason": r} for p, r in self.unreadable],
                "summary": self.summary()}


def image_batches(files: Sequence[str], preprocessing: Preprocessing,
                  unreadable: list[tuple[str, str]], batch_size: int = BATCH_SIZE,
                  progress: ProgressCallback = no_progress, stage: str = ""
                  ) -> Iterator[torch.Tensor]:
    """Network inputs of `files` (centre crop) in batches of nearly equal size (no tiny last
    batch: AdaBN normalises by batch). Unreadable files are skipped and added to `unreadable`."""
    from .data import load_image_array
    from .inputs import InputPipeline

    pipeline = InputPipeline(preprocessing)
    chunks = np.array_split(np.arange(len(files)), max(1, -(-len(files) // batch_size)))
    done = 0
    for chunk in chunks:
        arrays = []
        for i in chunk:
            try:
                arrays.append(load_image_array(files[i], preprocessing.resize_size))
            except Exception as exc:  # ImageReadError, or anything a broken file raises
                unreadable.append((files[i], getattr(exc, "reason", None) or str(exc)))
        done += len(chunk)
        if arrays:
            yield pipeline.eval_batch(np.stack(arrays))
        progress(Progress(done / max(len(files), 1), f"{done} of {len(files)} images",
                          stage=stage, done=done, total=len(files)))


def recalibrated_model(loaded: LoadedModel, reference_files: Sequence[str],
                       new_files: Sequence[str], *, device: Optional[torch.device] = None,
                       progress: ProgressCallback = no_progress,
                       cancel: Optional[CancelToken] = None
                       ) -> tuple[TransferModel, int, list[tuple[str, str]]]:
    """A copy of `loaded.model` recalibrated to `new_files`, aligned to `reference_files` (the
    training images); `loaded.model` is unchanged.

    Returns:
        (the new model in eval mode on the CPU, new images used, unreadable new images).

    Raises:
        UserError: The backbone has no batch norm, or too few images could be read.
    """
    if not batch_norm_layers(loaded.model.backbone):
        raise UserError(f"{loaded.spec.display_name} has no batch-norm layers, so it cannot be "
                        f"recalibrated; add such images to the training data and train again "
                        f"instead.", path=loaded.path)
    if len(new_files) < MIN_NEW_IMAGES:
        raise UserError(f"Recalibration needs at least {MIN_NEW_IMAGES} new images; "
                        f"{len(new_files)} found.")
    device = device or torch.device("cpu")
    model = copy.deepcopy(loaded.model).to(device).eval()
    bad_reference: list[tuple[str, str]] = []
    source = batch_norm_input_moments(
        model, image_batches(reference_files, loaded.preprocessing, bad_reference,
                             progress=StageProgress(progress, 0.0, 0.5, "reference"),
                             stage="reference"), device, cancel)
    if len(bad_reference) == len(reference_files):
        raise UserError("None of the training images could be read, so there is nothing to "
                        "align the new images to.")
    unreadable: list[tuple[str, str]] = []
    seen = align_batch_norm(model, source, image_batches(
        new_files, loaded.preprocessing, unreadable,
        progress=StageProgress(progress, 0.5, 1.0, "recalibrate"), stage="recalibrate"),
        device, cancel)
    if seen < MIN_NEW_IMAGES:
        raise UserError(f"Only {seen} of the {len(new_files)} new images could be read; "
                        f"recalibration needs at least {MIN_NEW_IMAGES}.")
    return model.cpu().eval(), seen, unreadable


def check_output(out: str | os.PathLike, loaded: LoadedModel, overwrite: bool = False,
                 what: str = "") -> Path:
    """Refuse, before any work, to write the new model over the original, into a run folder,
    over an existing file (unless `overwrite`) or where it cannot be written."""
    from .atomic import check_writable_file
    from .run import Run

    out = Path(out)
    label = f"{what} {out}" if what else str(out)
    if out.exists() and out.resolve() == Path(loaded.path).resolve():
        raise UserError(f"{label} is the original model; choose another file name, so the "
                        f"original stays as it is.", path=str(out))
    Run.refuse_output_inside(out, what)
    if out.exists() and not out.is_dir() and not overwrite:
        raise UserError(f"{label} already exists; choose another name or delete it first.",
                        path=str(out))
    return check_writable_file(out, what)


def labelled_images(folder: str | os.PathLike, class_names: Sequence[str],
                    skipped: Optional[list[tuple[str, str]]] = None) -> tuple[list[str], list[int]]:
    """(files, labels) of a folder with one subfolder per class (class names as the model's)."""
    from .shift_compare import new_image_files

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"The labelled images {folder} are not a folder: give a folder with one "
                        f"subfolder per class.", path=str(folder))
    index = {name: i for i, name in enumerate(class_names)}
    try:
        subfolders = sorted(p for p in folder.iterdir()
                            if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise UserError(f"Cannot open the labelled images {folder}: "
                        f"{(exc.strerror or str(exc)).lower()}.", path=str(folder)) from None
    unknown = [p.name for p in subfolders if p.name not in index]
    if unknown or not subfolders:
        raise UserError(f"The labelled images {folder} need one subfolder per class, named as the "
                        f"model's classes ({', '.join(class_names)})"
                        + (f"; {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not."
                           if unknown else "."),
                        path=str(folder))
    files, labels = [], []
    for sub in subfolders:
        found = new_image_files(sub, skipped, what="The class folder")
        files += found
        labels += [index[sub.name]] * len(found)
    return files, labels


def accuracy(loaded: LoadedModel, files: Sequence[str], labels: Sequence[int],
             unreadable: list[tuple[str, str]], cancel: Optional[CancelToken] = None) -> float:
    """Share of the readable `files` whose predicted class is their label."""
    from .predict import predict_images

    index = {name: i for i, name in enumerate(loaded.class_names)}
    right = total = 0
    for p, label in zip(predict_images(loaded, list(files), cancel=cancel), labels):
        if p.error:
            unreadable.append((p.path, p.error))
            continue
        total += 1
        right += index[p.predicted] == label
    if not total:
        raise UserError("None of the labelled images could be read.")
    return right / total


def carried_blocks(loaded: LoadedModel) -> dict:
    """The original model's "unlike the training data" detector and training-feature sample,
    to store with the recalibrated model unchanged: they describe the features the head was
    trained on, which recalibration maps the new images back towards (so comparing and flagging
    with the recalibrated model asks whether the new images now look like training images)."""
    from .ood import OOD_KEY, REFERENCE_KEY, ood_block, reference_block, reference_features

    blocks = {}
    detector, reference = ood_block(loaded), reference_features(loaded)
    if detector is not None:
        blocks[OOD_KEY] = detector.to_block()
    if reference is not None:
        blocks[REFERENCE_KEY] = reference_block(*reference, max_rows=len(reference[0]))
    return blocks


def recalibrate_to_folder(model_or_run: str | os.PathLike, new_dir: str | os.PathLike,
                          out: str | os.PathLike, *, labelled: Optional[str | os.PathLike] = None,
                          overwrite: bool = False, seed: int = 0, max_images: int = MAX_IMAGES,
                          progress: ProgressCallback = no_progress,
                          cancel: Optional[CancelToken] = None) -> Recalibration:
    """Recalibrate the model of `model_or_run` (its run folder's training images are the
    reference) to the images in `new_dir`, and save it as `out` unless the original scores at
    least as well on the `labelled` images.

    Raises:
        UserError: Bad input (see `check_output`, `labelled_images`, `recalibrated_model`).
    """
    from .model_file import save_model
    from .shift import sample_rows
    from .shift_compare import new_image_files, open_model_and_run, require_run, training_sample

    cancel = cancel or CancelToken()
    loaded, run = open_model_and_run(model_or_run)
    check_output(out, loaded, overwrite)
    run = require_run(run, loaded, "Recalibrating")
    skipped: list[tuple[str, str]] = []
    files = new_image_files(new_dir, skipped)
    lab_files, lab_labels = (labelled_images(labelled, loaded.class_names, skipped)
                             if labelled is not None else ([], []))
    rng = np.random.default_rng(seed)
    files = [files[i] for i in sample_rows(len(files), max_images, rng)]
    reference, _, _ = training_sample(run, loaded, max_images, seed, cancel=cancel)
    end = 0.85 if lab_files else 1.0
    model, seen, unreadable = recalibrated_model(
        loaded, reference, files, progress=StageProgress(progress, 0.0, end, "recalibrate"),
        cancel=cancel)
    result = Recalibration(None, seen, len(reference), unreadable=skipped + unreadable)
    if lab_files:
        progress(Progress(end, "Scoring both models on the labelled images", stage="score"))
        new = LoadedModel(model, loaded.spec, loaded.class_names, loaded.preprocessing,
                          loaded.mode, str(out))
        bad: list[tuple[str, str]] = []
        result.original_accuracy = accuracy(loaded, lab_files, lab_labels, bad, cancel)
        result.recalibrated_accuracy = accuracy(new, lab_files, lab_labels, [], cancel)
        result.labelled_images = len(lab_files) - len(bad)
        result.unreadable += bad
        if result.recalibrated_accuracy <= result.original_accuracy:
            return result
    cancel.raise_if_cancelled()
    save_model(out, model, loaded.spec, loaded.class_names, loaded.mode,
               dropout=float(model.head[0].p), blocks=carried_blocks(loaded))
    result.saved = str(out)
    progress(Progress(1.0, f"Saved {out}", stage="save"))
    return result
