"""One training run from a TrainConfig: scan, build, train (three modes), evaluate, write files.

The CLI and the GUI both call `train_run`; they differ only in the progress callback, the cancel
token and any extra callbacks (the GUI adds one that feeds its live plots).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..data import DatasetScan, ImageStore, load_image_array, scan_dataset
from ..errors import Cancelled, DatasetError
from ..evaluation import evaluate_predictions
from ..features import FeatureCache, FeatureExtractor, default_feature_cache, view_names
from ..jobs import CancelToken, Progress, ProgressCallback, StageProgress, no_progress
from ..model_file import save_model
from ..models import (TransferModel, get_backbone, keep_frozen_in_eval, make_model,
                      set_trainable_stages)
from ..run_dir import RunDirectory
from . import callbacks as cb
from .augment import InputPipeline
from .config import FEATURE_EXTRACTION, FINE_TUNING, FROM_SCRATCH, TrainConfig
from .loop import Callback, Trainer
from .setup import (FeatureBatches, ImageBatches, class_weights, device_description,
                    fixed_batches, make_optimizer, num_batches, pick_device, seed_everything)

SPLITS = ("train", "val", "test")


@dataclass
class TrainingResult:
    """What a run produced. `evaluation` is None when the run was stopped before it."""

    run_dir: Path
    config: TrainConfig
    dataset: Optional[DatasetScan]
    history: list[dict] = field(default_factory=list)
    best: Optional[dict] = None
    evaluation: Optional[dict] = None
    stop_reason: Optional[str] = None
    cancelled: bool = False
    device: str = ""
    seconds: float = 0.0

    @property
    def has_model(self) -> bool:
        return self.best is not None


class _Split:
    """Positions (into the list of all files) and labels of one split."""

    def __init__(self, positions: list[int], labels: list[int], files: list[str]) -> None:
        self.positions, self.labels, self.files = positions, labels, files

    def __len__(self) -> int:
        return len(self.positions)


def _splits(dataset: DatasetScan, files: list[str], failed: set[int]) -> dict[str, _Split]:
    out = {}
    for name in SPLITS:
        pos = [i for i, s in enumerate(dataset.samples) if s.split == name and i not in failed]
        out[name] = _Split(pos, [dataset.samples[i].label for i in pos], [files[i] for i in pos])
    return out


def _drop_failures(dataset: DatasetScan, files: list[str], failures: dict[int, str]) -> DatasetScan:
    if not failures:
        return dataset
    dataset = dataset.without([files[i] for i in failures], {files[i]: r for i, r in failures.items()})
    counts = dataset.counts()
    empty = [name for name in dataset.class_names if counts[name]["train"] == 0]
    if empty:
        raise DatasetError(f"Class '{empty[0]}' has no training image that can be decoded. "
                           f"See the skipped files and add readable images.", path=dataset.root)
    return dataset


class _Run:
    """The state of one run while `train_run` executes it."""

    def __init__(self, config: TrainConfig, run_dir: RunDirectory, progress: ProgressCallback,
                 cancel: CancelToken, feature_cache: FeatureCache, allow_download: bool) -> None:
        self.config, self.dir, self.progress, self.cancel = config, run_dir, progress, cancel
        self.feature_cache, self.allow_download = feature_cache, allow_download
        self.resources: list = []  # things with close() that live until the run ends
        self.spec = get_backbone(config.backbone)
        self.device = pick_device(config.device)
        self.pipeline = InputPipeline(self.spec.preprocessing)
        self.feature_mode = config.mode == FEATURE_EXTRACTION
        # Share of the progress bar per stage: feature extraction is mostly the backbone pass.
        self.ranges = ({"scan": (0, .03), "weights": (.03, .05), "prepare": (.05, .85),
                        "train": (.85, .98), "evaluate": (.98, 1.0)} if self.feature_mode else
                       {"scan": (0, .02), "weights": (.02, .04), "prepare": (.04, .12),
                        "train": (.12, .97), "evaluate": (.97, 1.0)})

    def stage(self, name: str) -> StageProgress:
        return StageProgress(self.progress, *self.ranges[name], name)

    def build_model(self, num_classes: int) -> TransferModel:
        report = self.stage("weights")

        def bytes_progress(done: int, total: Optional[int]) -> None:
            report(Progress(done / total if total else None,
                            f"Downloading {self.spec.display_name} weights: {done / 1e6:.1f} MB"))

        return make_model(self.spec, num_classes, pretrained=self.config.mode != FROM_SCRATCH,
                          dropout=self.config.dropout, allow_download=self.allow_download,
                          progress=bytes_progress, cancel=self.cancel)

    def loss(self, train_labels: Sequence[int], num_classes: int) -> nn.Module:
        weights = (class_weights(train_labels, num_classes).to(self.device)
                   if self.config.class_weights == "auto" else None)
        return nn.CrossEntropyLoss(weight=weights, label_smoothing=self.config.label_smoothing)

    def standard_callbacks(self, model: TransferModel, class_names: list[str], steps: int,
                           history: cb.History) -> list[Callback]:
        c = self.config
        checkpoint = cb.BestCheckpoint(save=lambda metrics: save_model(
            self.dir.file("model.pt"), model, self.spec, class_names, c.mode, c.dropout))
        out = [history, cb.CosineSchedule(steps), checkpoint, cb.EpochEnd(self.dir.append_metrics),
               cb.ProgressReporter(self.stage("train"))]
        if c.early_stopping_patience > 0:
            out.append(cb.EarlyStopping(c.early_stopping_patience))
        return out


def train_run(config: TrainConfig, run_dir: str | Path, *, callbacks: Sequence[Callback] = (),
              progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None,
              feature_cache: Optional[FeatureCache] = None, allow_download: bool = True,
              evaluate_after_cancel: bool | Callable[[], bool] = False) -> TrainingResult:
    """Train one model as `config` says and write the run directory.

    Raises UserError subclasses for bad input (dataset, weights, options). A cancel stops within
    one batch: the best model so far stays in model.pt and the result has `cancelled` set; with
    `evaluate_after_cancel` (a bool, or a function asked once training has stopped) that best
    model is then evaluated too: the GUI wants its results after Stop, but not when its window
    is closing, and a Ctrl-C on the command line wants to exit.
    """
    config = config.validated()
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    if feature_cache is None:
        feature_cache = (FeatureCache(config.feature_cache_dir) if config.feature_cache_dir
                         else default_feature_cache())
    out = RunDirectory(run_dir).create()
    out.write_config(config.to_dict())
    run = _Run(config, out, progress, cancel, feature_cache, allow_download)
    result = TrainingResult(out.path, config, None, device=device_description(run.device))
    seed_everything(config.seed)
    try:
        return _train(run, result, callbacks, started, evaluate_after_cancel)
    finally:
        for resource in run.resources:
            resource.close()


def _train(run: _Run, result: TrainingResult, callbacks: Sequence[Callback], started: float,
           evaluate_after_cancel: bool | Callable[[], bool]) -> TrainingResult:
    config, out, cancel = run.config, run.dir, run.cancel
    try:
        dataset = scan_dataset(config.data_dir, val_fraction=config.val_fraction,
                               test_fraction=config.test_fraction, seed=config.split_seed,
                               progress=run.stage("scan"), cancel=cancel)
        result.dataset = dataset
        if not dataset.split("val"):
            raise DatasetError("The dataset has no validation images. Add a 'val' folder, or more "
                               "images per class so some can be set aside.", path=dataset.root)
        model = run.build_model(dataset.num_classes)
        trainer_parts = (_prepare_features if run.feature_mode else _prepare_images)(run, model, dataset)
    except Cancelled:
        result.cancelled, result.stop_reason = True, "stopped by the user"
        result.seconds = time.perf_counter() - started
        out.write_result(_result_summary(result))
        return result
    dataset, splits, trainer_model, batches, evaluate = trainer_parts
    result.dataset = dataset
    out.write_dataset({**dataset.summary(),
                       "skipped": [{"path": s.path, "reason": s.reason} for s in dataset.skipped]})

    history = cb.History()
    steps = config.epochs * batches.num_batches
    all_callbacks = [*run.standard_callbacks(model, dataset.class_names, steps, history), *callbacks]
    if config.mode == FINE_TUNING:
        set_trainable_stages(model, run.spec, 0 if config.warmup_epochs else config.unfreeze_stages)
        if config.warmup_epochs:
            all_callbacks.append(cb.Unfreeze(config.warmup_epochs, lambda: set_trainable_stages(
                model, run.spec, config.unfreeze_stages)))
    trainer = Trainer(
        trainer_model, _optimizer(run, model), run.loss(splits["train"].labels, dataset.num_classes),
        batches.train, batches.val, epochs=config.epochs, num_batches=batches.num_batches,
        device=run.device, callbacks=all_callbacks, cancel=cancel,
        mixed_precision=config.mixed_precision and not run.feature_mode,
        set_train_mode=lambda m: (m.train(), keep_frozen_in_eval(m)))
    trainer.fit()
    checkpoint = next(c for c in all_callbacks if isinstance(c, cb.BestCheckpoint))
    result.history, result.best = history.epochs, checkpoint.best_metrics
    result.stop_reason, result.cancelled = trainer.stop_reason, trainer.cancelled
    if trainer.cancelled and callable(evaluate_after_cancel):
        evaluate_after_cancel = evaluate_after_cancel()
    if result.best is not None and (evaluate_after_cancel or not trainer.cancelled):
        report = run.stage("evaluate")
        report(Progress(0.0, "Evaluating the best model"))
        result.evaluation = {
            "schema_version": 1,
            "class_names": dataset.class_names,
            "primary_split": "test" if splits["test"] else "val",
            "best_epoch": result.best["epoch"],
            "splits": {name: evaluate(splits[name]) for name in ("val", "test") if splits[name]},
        }
        out.write_evaluation(result.evaluation)
        report(Progress(1.0, "Done"))
    result.seconds = time.perf_counter() - started
    out.write_result(_result_summary(result))
    return result


def _result_summary(result: TrainingResult) -> dict:
    return {"best_epoch": result.best["epoch"] if result.best else None,
            "best_val_acc": result.best["val_acc"] if result.best else None,
            "epochs_run": len(result.history), "stop_reason": result.stop_reason,
            "cancelled": result.cancelled, "seconds": round(result.seconds, 3),
            "device": result.device, "has_model": result.has_model}


def _optimizer(run: _Run, model: TransferModel) -> torch.optim.Optimizer:
    c = run.config
    if c.mode == FEATURE_EXTRACTION:
        groups = [(list(model.head.parameters()), c.learning_rate)]
    elif c.mode == FINE_TUNING:
        groups = [(list(model.backbone.parameters()), c.learning_rate * c.backbone_lr_factor),
                  (list(model.head.parameters()), c.learning_rate)]
    else:
        groups = [(list(model.parameters()), c.learning_rate)]
    return make_optimizer(c.optimizer, groups, c.weight_decay)


class _Batches:
    def __init__(self, train, val, num_batches: int) -> None:
        self.train, self.val, self.num_batches = train, val, num_batches


def _probabilities(model: nn.Module, batches, device: torch.device) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for inputs, _ in batches:
            out.append(torch.softmax(model(inputs.to(device)).float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def _prepare_features(run: _Run, model: TransferModel, dataset: DatasetScan):
    """Feature extraction: the frozen backbone runs once per image (and view); the head trains on
    the cached vectors, and evaluation reuses them too."""
    c, spec = run.config, run.spec
    model.to(run.device)
    model.backbone.requires_grad_(False)
    files = [s.path for s in dataset.samples]
    train_views = view_names(c.augmentation, c.feature_views, c.seed)
    views = [train_views if s.split == "train" else train_views[:1] for s in dataset.samples]
    size = spec.preprocessing.resize_size
    extractor = FeatureExtractor(model.backbone, run.pipeline, f"{spec.name}|imagenet|{size}",
                                 spec.feature_dim, run.device, batch_size=32,
                                 mixed_precision=c.mixed_precision)
    features, failures = extractor.extract(run.feature_cache, files, views,
                                           lambda p: load_image_array(p, size),
                                           progress=run.stage("prepare"), cancel=run.cancel)
    run.feature_cache.save()
    splits = _splits(dataset, files, set(failures))
    dataset = _drop_failures(dataset, files, failures)

    def center(split: _Split) -> torch.Tensor:
        return torch.from_numpy(np.stack([features[i][0] for i in split.positions]))

    val_x, val_y = center(splits["val"]), torch.tensor(splits["val"].labels)
    train = FeatureBatches([features[i] for i in splits["train"].positions],
                           splits["train"].labels, c.batch_size, c.seed)
    batches = _Batches(train, fixed_batches(val_x, val_y, 512),
                       num_batches(len(splits["train"]), c.batch_size))

    def evaluate(split: _Split) -> dict:
        probs = _probabilities(model.head, fixed_batches(center(split), torch.tensor(split.labels),
                                                         512)(), run.device)
        return evaluate_predictions(split.labels, probs, dataset.class_names, split.files)

    return dataset, splits, model.head, batches, evaluate


def _prepare_images(run: _Run, model: TransferModel, dataset: DatasetScan):
    """Fine-tuning and from scratch: images are decoded once into an ImageStore."""
    c = run.config
    model.to(run.device)
    files = [s.path for s in dataset.samples]
    store = ImageStore(files, run.spec.preprocessing.resize_size,
                       memory_budget_bytes=c.memory_budget_mb * 1_000_000)
    run.resources.append(store)
    failures = store.decode_all(progress=run.stage("prepare"), cancel=run.cancel)
    splits = _splits(dataset, files, set(failures))
    dataset = _drop_failures(dataset, files, failures)

    def images(split: _Split, augmentation: str = "none") -> ImageBatches:
        return ImageBatches(store.get_many, split.positions, split.labels, run.pipeline,
                            c.batch_size, c.seed, augmentation)

    train = images(splits["train"], c.augmentation)
    batches = _Batches(train.train, images(splits["val"]).evaluate,
                       num_batches(len(splits["train"]), c.batch_size))

    def evaluate(split: _Split) -> dict:
        probs = _probabilities(model, images(split).evaluate(), run.device)
        return evaluate_predictions(split.labels, probs, dataset.class_names, split.files)

    return dataset, splits, model, batches, evaluate
