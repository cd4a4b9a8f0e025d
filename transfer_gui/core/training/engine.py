"""One training run from a TrainConfig: scan, build, train (three modes), evaluate, write files.

The CLI and the GUI both call `train_run`; they differ only in the progress callback, the cancel
token and any extra callbacks (the GUI adds one that feeds its live plots).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..data import DatasetScan, scan_dataset
from ..data.corrections import DataCorrections
from ..errors import Cancelled, ConfigError, DatasetError
from ..features import FeatureCache, default_feature_cache
from ..inputs import InputPipeline
from ..jobs import CancelToken, Progress, ProgressCallback, StageProgress, no_progress
from ..model_file import save_model
from ..models import TransferModel, get_backbone, make_model
from ..ood import MAX_FIT_ROWS, training_blocks
from ..peak_memory import PeakMemory
from ..run import Run
from ..run_writer import OtherRankWriter, RunWriter
from . import callbacks as cb
from .config import FEATURE_EXTRACTION, FINE_TUNING, FROM_SCRATCH, TrainConfig
from .distributed import Distributed
from .loop import Callback, Trainer
from .plans import TrainingPlan, feature_plan, image_plan
from .setup import class_weights, device_description, make_optimizer, pick_device, seed_everything


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
    probe: Optional[dict] = None  # the linear probe: l2, and (fine-tuning) its val scores
    kept: Optional[str] = None  # fine-tuning: "fine_tuning" or "feature_extraction"
    note: Optional[str] = None  # what the run decided, in plain words
    peak_memory: Optional[dict] = None  # the process's peak memory during the run (PeakMemory)

    @property
    def has_model(self) -> bool:
        return self.best is not None

    @property
    def model_path(self) -> Path:
        """Where the run's model file is (it exists only when the run has a model)."""
        return Run(self.run_dir).model_path


class _Run:
    """The state of one run while `train_run` executes it."""

    def __init__(self, config: TrainConfig, run_dir: RunWriter, progress: ProgressCallback,
                 cancel: CancelToken, feature_cache: FeatureCache, allow_download: bool,
                 dist: Distributed) -> None:
        self.config, self.dir, self.progress, self.cancel = config, run_dir, progress, cancel
        self.feature_cache, self.allow_download = feature_cache, allow_download
        self.resources: list = []  # things with close() that live until the run ends
        self.spec = get_backbone(config.backbone)
        self.dist = dist
        self.device = dist.start(pick_device(config.device))
        self.pipeline = InputPipeline(self.spec.preprocessing)
        self.memory = PeakMemory(self.device)  # sampled while the run trains
        self.feature_mode = config.mode == FEATURE_EXTRACTION
        # Share of the progress bar per stage: feature extraction is mostly the backbone pass.
        self.ranges = ({"scan": (0, .03), "weights": (.03, .05), "prepare": (.05, .85),
                        "probe": (.85, .92), "train": (.92, .98), "evaluate": (.98, 1.0)}
                       if self.feature_mode else
                       {"scan": (0, .02), "weights": (.02, .04), "prepare": (.04, .10),
                        "probe": (.10, .15), "train": (.15, .97), "evaluate": (.97, 1.0)})

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

    def save(self, model: TransferModel, plan: TrainingPlan, blocks: Optional[dict] = None) -> None:
        self.dir.write_model(lambda path: save_model(
            path, model, self.spec, plan.dataset.class_names, self.config.mode,
            self.config.dropout, blocks=blocks))

    def add_unlike_training(self, model: TransferModel, plan: TrainingPlan) -> None:
        """Rewrite model.pt with the "unlike the training data" detector fitted on the final
        model's backbone features (core/ood.py; for fine-tuning, one pass over the training
        and validation images that the evaluation then reuses)."""
        self.stage("evaluate")(Progress(0.0, "Measuring what the training images look like"))
        sample = plan.splits["train"].sample(MAX_FIT_ROWS, self.config.seed)  # a large set
        train, val = plan.features(sample), plan.features(plan.splits["val"])
        self.save(model, plan, training_blocks(
            train, np.asarray(sample.labels), val, plan.dataset.num_classes,
            seed=self.config.seed))

    def standard_callbacks(self, model: TransferModel, plan: TrainingPlan,
                           history: cb.History) -> list[Callback]:
        c = self.config
        checkpoint = cb.BestCheckpoint(save=lambda metrics: self.save(model, plan),
                                       keep=plan.keep)
        out = [history, checkpoint, cb.EpochEnd(self.dir.append_metrics),
               cb.ProgressReporter(self.stage("train")), *plan.callbacks]
        if plan.schedule:
            out.append(cb.CosineSchedule(plan.epochs * plan.num_batches,
                                         warmup_steps=plan.warmup_steps))
        if c.early_stopping_patience > 0:
            out.append(cb.EarlyStopping(c.early_stopping_patience))
        return out


def train_run(config: TrainConfig, run_dir: str | Path, *, callbacks: Sequence[Callback] = (),
              progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None,
              feature_cache: Optional[FeatureCache] = None, allow_download: bool = True,
              evaluate_after_cancel: bool | Callable[[], bool] = False,
              overwrite: bool = False, dataset: Optional[DatasetScan] = None,
              evaluate: bool = True, config_notes: Optional[dict] = None) -> TrainingResult:
    """Train one model as `config` says and write the run folder `run_dir` whole.

    The run is staged beside `run_dir` and moved into place once it has a model (RunWriter):
    a run that fails leaves nothing, and one stopped before its first model, or stopped while
    replacing an older run (`overwrite`), is kept as `RUN_DIR.partial`; `result.run_dir` says
    where the run ended up. A `run_dir` that already holds a run is refused unless `overwrite`.
    `dataset`: a scan already made (the Data page's), used instead of scanning again when it was
    made with the config's folder and split settings; its user corrections (left-out and
    relabelled pictures) apply either way and are recorded in dataset.json.

    Raises UserError subclasses for bad input (dataset, weights, options, a run folder in use).
    A cancel stops within one batch: the best model so far is kept and the result has
    `cancelled` set; with `evaluate_after_cancel` (a bool, or a function asked once training has
    stopped) that best model is then evaluated too: the GUI wants its results after Stop, but
    not when its window is closing, and a Ctrl-C on the command line wants to exit.
    `evaluate=False` skips the evaluation (and the "unlike the training data" fit) altogether:
    a settings search's trials are scored on their validation curve. `config_notes`: more keys
    for config.json beside the settings (e.g. "auto_settings": the search that chose them).

    Started by torchrun with several processes (distributed.py), the processes train the run
    together and rank 0 alone writes it; the others return a result without files. A process
    that stops makes the rest stop as after a cancel (`stop_reason` says so; the best model is
    kept, not evaluated).
    """
    config = replace(config.validated(), data_dir=os.path.abspath(config.data_dir))
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    dist = Distributed.from_environment()
    _check_distributed(config, dist)
    if feature_cache is None:
        feature_cache = (FeatureCache(config.feature_cache_dir) if config.feature_cache_dir
                         else default_feature_cache())
    writer = RunWriter(run_dir, overwrite=overwrite) if dist.is_main else OtherRankWriter(run_dir)
    try:
        with writer as out:
            run = _Run(config, out, progress, cancel, feature_cache, allow_download, dist)
            out.write_config({**config.to_dict(), **(config_notes or {}),
                              **dist.describe(config.batch_size)})
            result = TrainingResult(out.destination, config, None,
                                    device=device_description(run.device))
            seed_everything(config.seed)
            try:
                with run.memory:
                    _train(run, result, callbacks, started, evaluate_after_cancel, evaluate,
                           dataset if dataset is not None and scan_matches(dataset, config)
                           else None, dataset.corrections if dataset is not None else {})
            finally:
                for resource in run.resources:
                    resource.close()
            result.run_dir = out.finish(result.has_model, interrupted=result.cancelled)
    finally:
        dist.close()
    return result


def _check_distributed(config: TrainConfig, dist: Distributed) -> None:
    """Refuse what several processes cannot train together, in plain words."""
    if dist.active and config.mode == FINE_TUNING and config.warmup_epochs:
        raise ConfigError(
            "Head-only warm-up epochs cannot be trained across several processes (the layers "
            "that train would change mid-run). Set warm-up epochs to 0 (the default: the "
            "linear-probe start makes them unnecessary), or train in one process.")


def scan_for(config: TrainConfig, progress: ProgressCallback = no_progress,
             cancel: Optional[CancelToken] = None,
             reuse: Optional[DatasetScan] = None) -> DatasetScan:
    """Scan `config`'s dataset folder with its split settings (what `scan_matches` holds a
    scan made elsewhere to); `reuse` (e.g. the Data page's scan) is returned instead when it
    is that scan already."""
    if reuse is not None and scan_matches(reuse, config):
        return reuse
    return scan_dataset(config.data_dir, val_fraction=config.val_fraction,
                        test_fraction=config.test_fraction, seed=config.split_seed,
                        leave_out_empty_classes=config.leave_out_empty_classes,
                        progress=progress, cancel=cancel)


def scan_matches(scan: DatasetScan, config: TrainConfig) -> bool:
    """Whether `scan` is what scanning `config`'s dataset now would give (same folder, split
    seed and fractions, and no class left out that the config would refuse instead)."""
    return (os.path.abspath(scan.root) == os.path.abspath(config.data_dir)
            and scan.split_seed == config.split_seed
            and tuple(scan.split_fractions[1:]) == (config.val_fraction, config.test_fraction)
            and (config.leave_out_empty_classes or not scan.left_out_classes))


def _train(run: _Run, result: TrainingResult, callbacks: Sequence[Callback], started: float,
           evaluate_after_cancel: bool | Callable[[], bool], evaluate: bool,
           scanned: Optional[DatasetScan], corrections: dict) -> TrainingResult:
    config, out, cancel = run.config, run.dir, run.cancel
    try:
        dataset = scanned or DataCorrections.from_dict(corrections).applied(
            scan_for(config, run.stage("scan"), cancel))
        result.dataset = dataset
        if not dataset.split("val"):
            raise DatasetError(dataset.empty_split_message("val"),
                               path=dataset.split_folders.get("val", dataset.root))
        model = run.build_model(dataset.num_classes)
        plan = (feature_plan if run.feature_mode else image_plan)(run, model, dataset)
        if run.feature_mode and not run.dist.is_main:
            return result  # its share of the features is computed: rank 0 fits the head
    except Cancelled:
        result.cancelled, result.stop_reason = True, "stopped by the user"
        result.seconds = time.perf_counter() - started
        result.peak_memory = run.memory.reading()
        out.write_result(_result_summary(result))
        return result
    dataset, splits = plan.dataset, plan.splits
    result.dataset = dataset
    out.write_dataset({**dataset.summary(),
                       "skipped": [{"path": s.path, "reason": s.reason} for s in dataset.skipped]})
    plan.optimizer = plan.optimizer or _optimizer(run, model)
    plan.loss = run.loss(splits["train"].labels, dataset.num_classes)
    history = cb.History()
    all_callbacks = [*run.standard_callbacks(model, plan, history), *callbacks]
    together = run.dist if not run.feature_mode else Distributed()  # the head: rank 0 alone
    trainer = Trainer(
        together.wrap(plan.model, run.device, sync_buffers=plan.micro_batch is None),
        plan.optimizer, plan.loss, plan.train, plan.val, epochs=plan.epochs,
        num_batches=plan.num_batches, device=run.device, callbacks=all_callbacks, cancel=cancel,
        mixed_precision=config.mixed_precision and not run.feature_mode,
        micro_batch=plan.micro_batch, start_metrics=plan.start_metrics, penalty=plan.penalty,
        set_train_mode=plan.set_train_mode, dist=together)
    trainer.fit()
    checkpoint = next(c for c in all_callbacks if isinstance(c, cb.BestCheckpoint))
    result.history, result.best = history.epochs, checkpoint.best_metrics
    result.stop_reason, result.cancelled = trainer.stop_reason, trainer.cancelled
    result.probe = plan.probe
    if config.mode == FINE_TUNING:
        _decide_fine_tuning(result, plan)
    if trainer.peer_lost is not None:
        evaluate_after_cancel = False  # the run ends now: torchrun stops what is left of it
    if trainer.cancelled and callable(evaluate_after_cancel):
        evaluate_after_cancel = evaluate_after_cancel()
    if not run.dist.is_main:
        evaluate = False  # rank 0 evaluates the model alone
    if result.best is not None and evaluate and (evaluate_after_cancel or not trainer.cancelled):
        run.add_unlike_training(model, plan)
        report = run.stage("evaluate")
        report(Progress(0.0, "Evaluating the best model"))
        result.evaluation = {
            "schema_version": 1,
            "class_names": dataset.class_names,
            "primary_split": "test" if splits["test"] else "val",
            "best_epoch": result.best["epoch"],
            "splits": {name: plan.evaluate(splits[name]) for name in ("val", "test")
                       if splits[name]},
        }
        out.write_evaluation(result.evaluation)
        report(Progress(1.0, "Done"))
    result.seconds = time.perf_counter() - started
    result.peak_memory = run.memory.reading()
    out.write_result(_result_summary(result))
    return result


def _decide_fine_tuning(result: TrainingResult, plan: TrainingPlan) -> None:
    """Say which model a fine-tuning run kept: the best epoch may be epoch 0, the probe."""
    probe = next((h for h in result.history if h["epoch"] == 0), None)
    if probe is not None and plan.probe is not None:
        plan.probe.update(val_acc=probe["val_acc"], val_loss=probe["val_loss"])
    if result.best is None:
        return
    tuned = [h for h in result.history if h["epoch"] > 0]
    if result.best["epoch"] > 0:
        result.kept = "fine_tuning"
        if probe is not None:
            result.note = (f"Fine-tuning beat feature extraction on the validation images "
                           f"({result.best['val_acc']:.1%} vs {probe['val_acc']:.1%}).")
        return
    result.kept = "feature_extraction"
    if plan.fallback:
        result.note = plan.fallback
    elif tuned:
        top = max(tuned, key=lambda h: (h["val_acc"], -h["val_loss"]))
        result.note = (f"Fine-tuning did not beat feature extraction on the validation images "
                       f"(best fine-tuned epoch {top['epoch']}: {top['val_acc']:.1%}; feature "
                       f"extraction: {result.best['val_acc']:.1%}), so the run kept the "
                       f"feature-extraction model.")
    else:
        result.note = "Stopped before fine-tuning began: the feature-extraction model was kept."


def _result_summary(result: TrainingResult) -> dict:
    return {"best_epoch": result.best["epoch"] if result.best else None,
            "best_val_acc": result.best["val_acc"] if result.best else None,
            "epochs_run": sum(1 for h in result.history if h["epoch"] > 0),
            "stop_reason": result.stop_reason,
            "cancelled": result.cancelled, "seconds": round(result.seconds, 3),
            "device": result.device, "has_model": result.has_model, "kept": result.kept,
            "note": result.note, "probe": result.probe, "peak_memory": result.peak_memory}


def _optimizer(run: _Run, model: TransferModel) -> torch.optim.Optimizer:
    """The mini-batch optimiser of fine-tuning and from-scratch training."""
    c = run.config
    if c.mode == FINE_TUNING:
        # L2-SP pulls the backbone towards its pretrained weights instead of towards zero.
        backbone_decay = 0.0 if c.stay_close > 0 else c.weight_decay
        return make_optimizer(c.optimizer, [
            (list(model.backbone.parameters()), c.learning_rate * c.backbone_lr_factor,
             backbone_decay),
            (list(model.head.parameters()), c.learning_rate, c.weight_decay)])
    return make_optimizer(c.optimizer, [(list(model.parameters()), c.learning_rate,
                                         c.weight_decay)])
