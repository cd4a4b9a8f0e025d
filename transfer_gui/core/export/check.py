"""The check every export gets: re-score the run's validation set with the exported file."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..data import load_image_array
from ..errors import UserError
from ..run import NotARunError, Run
from ..jobs import CancelToken, Progress, ProgressCallback, no_progress
from ..model_file import LoadedModel
from ..ood import ood_block
from ..inputs import InputPipeline

PROB_TOLERANCE = 1e-4
BATCH_SIZE = 32


class ExportCheckError(UserError):
    """The exported file does not reproduce the in-app model's predictions.

    Attributes:
        result: The CheckResult that failed.
    """

    def __init__(self, message: str, result: "CheckResult") -> None:
        super().__init__(message, path=result.path)
        self.result = result


@dataclass(frozen=True)
class CheckResult:
    """How an exported file scored the validation set against the in-app model.

    `passed` is False when the check was skipped (`skipped` says so, `message` says why).
    """

    format: str
    path: str
    images_checked: int
    max_prob_diff: float
    mismatches: list[str] = field(default_factory=list)
    passed: bool = False
    skipped: bool = False
    message: str = ""
    max_score_diff: Optional[float] = None  # bundle: "unlike the training data" scores

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"format": self.format, "path": self.path, "images_checked": self.images_checked,
                "max_prob_diff": self.max_prob_diff, "mismatches": list(self.mismatches),
                "passed": self.passed, "skipped": self.skipped, "message": self.message,
                "max_score_diff": self.max_score_diff}


@dataclass
class ValidationSet:
    """The decoded images the check scores, with the split they came from."""

    split: str
    files: list[str]
    arrays: np.ndarray  # (N, S, S, 3) uint8 at the model's resize size
    unreadable: list[str]


def load_validation_set(run_dir: str | Path, loaded: LoadedModel,
                        cancel: Optional[CancelToken] = None) -> ValidationSet:
    """Re-scan the run's dataset as config.json says and decode its "val" split.

    Raises a UserError naming the dataset folder when it is gone (the check needs it).
    """
    try:
        run = Run.open(run_dir)
    except NotARunError:
        raise UserError(f"{run_dir} is not a run folder: config.json is missing, so the export "
                        f"check cannot find the validation images.", path=str(run_dir)) from None
    data_dir = run.data_dir()
    if not data_dir.is_dir():
        raise UserError(f"The export check needs the run's dataset folder {data_dir} to re-score "
                        f"its validation images, but that folder is missing. Put it back (or "
                        f"restore it at that path) and export again.", path=str(data_dir))
    dataset = run.dataset(cancel=cancel)
    split = next((s for s in ("val", "test", "train") if dataset.split(s)), "val")
    files, arrays, unreadable = [], [], []
    size = loaded.preprocessing.resize_size
    for sample in dataset.split(split):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            arrays.append(load_image_array(sample.path, size))
            files.append(sample.path)
        except Exception:  # an unreadable image is not the export's fault; the count shows it
            unreadable.append(sample.path)
    if not files:
        raise UserError(f"The export check found no readable images in the dataset {data_dir}.",
                        path=str(data_dir))
    return ValidationSet(split, files, np.stack(arrays), unreadable)


def _batches(valset: ValidationSet, loaded: LoadedModel):
    pipeline = InputPipeline(loaded.preprocessing)
    for start in range(0, len(valset.files), BATCH_SIZE):
        yield pipeline.eval_batch(valset.arrays[start:start + BATCH_SIZE])


def _probabilities(run: Callable[[torch.Tensor], torch.Tensor], valset: ValidationSet,
                   loaded: LoadedModel, cancel: Optional[CancelToken]) -> np.ndarray:
    out = []
    with torch.no_grad():
        for batch in _batches(valset, loaded):
            if cancel is not None:
                cancel.raise_if_cancelled()
            out.append(torch.softmax(torch.as_tensor(run(batch)).float(), 1).numpy())
    return np.concatenate(out)


def _unlike_scores(backbone: Callable[[torch.Tensor], torch.Tensor], valset: ValidationSet,
                   loaded: LoadedModel, cancel: Optional[CancelToken]) -> np.ndarray:
    detector = ood_block(loaded)
    out = []
    with torch.no_grad():
        for batch in _batches(valset, loaded):
            if cancel is not None:
                cancel.raise_if_cancelled()
            out.append(detector.scores(torch.as_tensor(backbone(batch)).float().numpy()))
    return np.concatenate(out)


def _exported_runner(fmt: str, path: Path) -> Callable[[torch.Tensor], torch.Tensor] | str:
    """A function scoring a batch with the exported file, or the reason the check is skipped."""
    if fmt in ("torchscript", "bundle"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notes
            module = torch.jit.load(str(path), map_location="cpu").eval()
        return module
    try:
        import onnxruntime
    except ImportError:
        return "skipped: onnxruntime not installed (pip install \"transfer-gui[onnx]\" to verify)"
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda batch: torch.from_numpy(session.run(None, {name: batch.numpy()})[0])


def check_export(loaded: LoadedModel, fmt: str, path: str | Path, valset: ValidationSet, *,
                 progress: ProgressCallback = no_progress,
                 cancel: Optional[CancelToken] = None, raise_on_failure: bool = True) -> CheckResult:
    """Score `valset` with the exported file at `path` and with `loaded.model`; compare.

    Raises ExportCheckError when a class differs or a probability is off by more than
    PROB_TOLERANCE (unless raise_on_failure is False). A skipped check (ONNX without
    onnxruntime) returns a result with passed=False and skipped=True.
    """
    path = Path(path)
    progress(Progress(None, f"Checking {path.name} on {len(valset.files)} {valset.split} images",
                      stage="check"))
    runner = _exported_runner(fmt, path)
    if isinstance(runner, str):
        return CheckResult(fmt, str(path), 0, float("nan"), [], passed=False, skipped=True,
                           message=f"{fmt} check {runner}; {path} was written but NOT verified.")
    loaded.model.eval()
    expected = _probabilities(loaded.model, valset, loaded, cancel)
    got = _probabilities(runner, valset, loaded, cancel)
    if got.shape != expected.shape:
        diff, mismatches = float("inf"), list(valset.files)
    else:
        diff = float(np.abs(got - expected).max()) if len(got) else 0.0
        names = loaded.class_names
        mismatches = [f"{f}: in-app {names[e]}, exported {names[g]}" for f, e, g in
                      zip(valset.files, expected.argmax(1), got.argmax(1)) if e != g]
    score_diff = None
    if fmt == "bundle" and ood_block(loaded) is not None:  # predict.py scores from its backbone
        score_diff = float(np.abs(_unlike_scores(runner.backbone, valset, loaded, cancel)
                                  - _unlike_scores(loaded.model.backbone, valset, loaded,
                                                   cancel)).max())
    passed = not mismatches and diff <= PROB_TOLERANCE and (score_diff or 0.0) <= PROB_TOLERANCE
    n = len(valset.files)
    if passed:
        message = (f"{fmt} check passed: {path} gives the in-app class for all {n} "
                   f"{valset.split} images (max probability difference {diff:.2e}"
                   + (f"; unlike-the-training-data scores within {score_diff:.2e}"
                      if score_diff is not None else "") + ").")
    else:
        message = (f"{fmt} check FAILED: {path} differs from the in-app model on the {n} "
                   f"{valset.split} images: {len(mismatches)} different classes, max probability "
                   f"difference {diff:.2e} (allowed {PROB_TOLERANCE:.0e}). The file was written "
                   f"but does not reproduce the model; do not use it.")
        if score_diff is not None:
            message += (f" Its unlike-the-training-data scores differ by up to "
                        f"{score_diff:.2e}.")
        if mismatches:
            message += " First: " + mismatches[0]
    if valset.unreadable:
        message += f" ({len(valset.unreadable)} unreadable image(s) left out.)"
    result = CheckResult(fmt, str(path), n, diff, mismatches, passed=passed, message=message,
                         max_score_diff=score_diff)
    progress(Progress(1.0, message, stage="check"))
    if not passed and raise_on_failure:
        raise ExportCheckError(message, result)
    return result
