"""What each mode trains and how: the engine's `TrainingPlan` per mode.

- Feature extraction: backbone features computed once (cached), then the head is the linear
  probe fitted by L-BFGS to convergence, its L2 strength chosen by cross-validation (heads.py).
- Fine-tuning (LP-FT): the head starts as that probe, which is also validated as "epoch 0";
  the backbone then trains with batch norm frozen (batchnorm.py), in micro-batches on the CPU
  (bounded memory, Stop within a micro-batch), optionally pulled towards its pretrained weights
  (L2-SP). The best epoch wins, so the run keeps the probe if no fine-tuned epoch beats it.
- From scratch: random weights, ordinary batch norm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np
import torch
from torch import nn

from ..data import DatasetScan, ImageStore
from ..errors import ConfigError, DatasetError
from ..evaluation import evaluate_predictions
from ..features import DatasetFeatures, dataset_features
from ..heads import (CV_FOLDS, CV_MAX_ROWS, choose_l2, fit_head, lbfgs, row_weights,
                     stratified_sample)
from ..models import TransferModel, set_trainable_stages
from . import batchnorm
from . import callbacks as cb
from .config import FINE_TUNING, PROBE_ITERATIONS_PER_EPOCH
from .distributed import sharded
from .loop import Callback
from .setup import ImageBatches, fixed_batches, num_batches

if TYPE_CHECKING:
    from .engine import _Run

SPLITS = ("train", "val", "test")
# Fine-tuning below this many training images in a class keeps the probe without trying.
MIN_FINE_TUNING_IMAGES = 5
# CPU fine-tuning steps (and its inference passes) in micro-batches of this many images. One
# Lite0 epoch on hymenoptera at batch 32 peaked at 4.66 GB RSS with whole batches, 2.11 GB with
# micro-batches of 8 and 1.64 GB with 4, at the same speed on 2 cores (33 s an epoch); a
# micro-batch takes ~0.15 s, so Stop answers within a second (bench/README.md).
CPU_MICRO_BATCH = 4


class Split:
    """Positions (into the list of all files) and labels of one split."""

    def __init__(self, positions: list[int], labels: list[int], files: list[str]) -> None:
        self.positions, self.labels, self.files = positions, labels, files

    def __len__(self) -> int:
        return len(self.positions)

    def sample(self, max_rows: int, seed: int, min_per_class: int = 1) -> "Split":
        """About `max_rows` of its images (all when not more), each class keeping its share
        (heads.stratified_sample)."""
        keep = stratified_sample(self.labels, max_rows, seed, min_per_class)
        if len(keep) == len(self):
            return self
        return Split([self.positions[k] for k in keep], [self.labels[k] for k in keep],
                     [self.files[k] for k in keep])


@dataclass
class TrainingPlan:
    """Everything the engine hands to the Trainer for one mode, plus how to score a split."""

    dataset: DatasetScan
    splits: dict[str, Split]
    model: nn.Module  # what the Trainer steps: the head (feature extraction) or the whole model
    train: Callable
    val: Callable
    num_batches: int
    optimizer: Optional[torch.optim.Optimizer]  # None: the engine's mini-batch optimiser
    evaluate: Callable[[Split], dict]
    set_train_mode: Callable[[nn.Module], None]
    epochs: int
    schedule: bool = True  # cosine learning-rate decay (not for L-BFGS)
    keep: str = "best"  # BestCheckpoint rule
    callbacks: list[Callback] = field(default_factory=list)
    start_metrics: Optional[dict[str, float]] = None
    micro_batch: Optional[int] = None
    warmup_steps: int = 0  # learning-rate warm-up steps of the cosine schedule
    penalty: Optional[Callable[[], torch.Tensor]] = None
    probe: Optional[dict] = None  # the linear probe's l2 and validation scores (fine-tuning)
    fallback: Optional[str] = None  # why fine-tuning was not tried, in plain words
    loss: Optional[nn.Module] = None  # set by the engine
    # The trained model's pooled backbone features (its head's input) of a split's centre views.
    features: Optional[Callable[[Split], np.ndarray]] = None


def splits_of(dataset: DatasetScan, files: list[str], failed: set[int]) -> dict[str, Split]:
    out = {}
    for name in SPLITS:
        pos = [i for i, s in enumerate(dataset.samples) if s.split == name and i not in failed]
        out[name] = Split(pos, [dataset.samples[i].label for i in pos], [files[i] for i in pos])
    return out


def drop_failures(dataset: DatasetScan, files: list[str], failures: dict[int, str]) -> DatasetScan:
    """The scan without undecodable files; refuses a class with no train or no val image left."""
    if not failures:
        return dataset
    dataset = dataset.without([files[i] for i in failures], {files[i]: r for i, r in failures.items()})
    counts = dataset.counts()
    empty = [name for name in dataset.class_names if counts[name]["train"] == 0]
    if empty:
        raise DatasetError(f"Class '{empty[0]}' has no training image that can be decoded. "
                           f"See the skipped files and add readable images.", path=dataset.root)
    if not dataset.split("val"):
        failed = [s for s in dataset.skipped if s.path in {files[i] for i in failures}]
        raise DatasetError(dataset.empty_split_message("val", failed),
                           path=dataset.split_folders.get("val", dataset.root))
    return dataset


def _probabilities(model: nn.Module, batches, device: torch.device) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for inputs, _ in batches:
            out.append(torch.softmax(model(inputs.to(device)).float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def _backbone_features(model: TransferModel, batches, device: torch.device) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for inputs, _ in batches:
            out.append(model.backbone(inputs.to(device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def _features(run: "_Run", files: list[str], *,
              views_for: Optional[Callable[[int], bool]] = None, **options) -> DatasetFeatures:
    """dataset_features of `files`; in a distributed run each process computes its share
    and the features are gathered on every process."""
    if not run.dist.active:
        return dataset_features(run.spec, files, views_for=views_for, **options)

    def compute(positions: list[int]) -> list:
        part = dataset_features(run.spec, [files[i] for i in positions],
                                views_for=views_for and (lambda k: views_for(positions[k])),
                                **options)
        return [(np.array(part.views_of(k)), part.failures.get(k))
                for k in range(len(positions))]

    items = sharded(run.dist, len(files), compute)
    return DatasetFeatures.from_views(
        files, [views for views, _ in items],
        {i: reason for i, (_, reason) in enumerate(items) if reason})


def _linear(model: TransferModel) -> nn.Linear:
    return next(m for m in model.head.modules() if isinstance(m, nn.Linear))


def feature_plan(run: "_Run", model: TransferModel, dataset: DatasetScan) -> TrainingPlan:
    """Feature extraction: cached features, then the L-BFGS linear probe (epochs = rounds)."""
    c = run.config
    model.to(run.device)
    model.backbone.requires_grad_(False)
    files = [s.path for s in dataset.samples]
    feats = _features(
        run, files, network=model.backbone, augmentation=c.augmentation,
        augmented_views=c.feature_views, seed=c.seed,
        views_for=lambda i: dataset.samples[i].split == "train", cache=run.feature_cache,
        device=run.device, mixed_precision=c.mixed_precision, progress=run.stage("prepare"),
        cancel=run.cancel)
    splits = splits_of(dataset, files, set(feats.failures))
    dataset = drop_failures(dataset, files, feats.failures)
    train = splits["train"]
    rows, owner = feats.all_views(train.positions)  # centre and augmented views
    x, y = torch.from_numpy(rows), torch.from_numpy(np.asarray(train.labels, np.int64)[owner])
    l2 = c.head_l2
    if l2 is None:
        cv = train.sample(CV_MAX_ROWS, c.seed, min_per_class=CV_FOLDS)  # heads.choose_l2
        l2, _ = choose_l2(feats.center(cv.positions), np.asarray(cv.labels),
                          dataset.num_classes, class_weights=c.class_weights, seed=c.seed,
                          cancel=run.cancel, progress=run.stage("probe"))
    linear = _linear(model)
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.zero_()
    val = splits["val"]
    center = lambda split: torch.from_numpy(feats.center(split.positions))  # noqa: E731

    def evaluate(split: Split) -> dict:
        probs = _probabilities(model.head, fixed_batches(center(split), torch.tensor(split.labels),
                                                         512)(), run.device)
        return evaluate_predictions(split.labels, probs, dataset.class_names, split.files)

    return TrainingPlan(
        dataset, splits, model.head, train=lambda epoch: iter([(x, y)]),
        val=fixed_batches(center(val), torch.tensor(val.labels), 512), num_batches=1,
        optimizer=lbfgs(linear.parameters(), PROBE_ITERATIONS_PER_EPOCH), evaluate=evaluate,
        set_train_mode=lambda m: m.eval(), epochs=c.epochs, schedule=False, keep="latest",
        callbacks=[cb.Converged()], penalty=lambda: 0.5 * l2 * linear.weight.pow(2).sum(),
        probe={"l2": l2}, features=lambda split: feats.center(split.positions))


def image_plan(run: "_Run", model: TransferModel, dataset: DatasetScan) -> TrainingPlan:
    """Fine-tuning and from scratch: images decoded once into an ImageStore."""
    c = run.config
    model.to(run.device)
    files = [s.path for s in dataset.samples]
    store = ImageStore(files, run.spec.preprocessing.resize_size,
                       memory_budget_bytes=c.memory_budget_mb * 1_000_000)
    run.resources.append(store)
    failures = store.decode_all(progress=run.stage("prepare"), cancel=run.cancel)
    splits = splits_of(dataset, files, set(failures))
    dataset = drop_failures(dataset, files, failures)
    cpu_micro = c.mode == FINE_TUNING and c.batch_norm != "train" and run.device.type == "cpu"

    # Inference in CPU micro-batches too: peak memory is set by the largest batch of any pass.
    inference_batch = CPU_MICRO_BATCH if cpu_micro else None

    def images(split: Split, augmentation: str = "none", sharded: bool = False) -> ImageBatches:
        """`sharded`: this process's part only (a distributed run's training and validation)."""
        return ImageBatches(store.get_many, split.positions, split.labels, run.pipeline,
                            c.batch_size, c.seed, augmentation, eval_batch_size=inference_batch,
                            shard=(run.dist.rank, run.dist.world_size) if sharded else (0, 1))

    computed: dict[int, np.ndarray] = {}

    def features(split: Split) -> np.ndarray:
        """One no-grad pass of the trained backbone per split, once training has ended (kept
        for `evaluate`, which only runs then: the head's input is not computed twice)."""
        if id(split) not in computed:
            computed[id(split)] = _backbone_features(model, images(split).evaluate(), run.device)
        return computed[id(split)]

    def evaluate(split: Split) -> dict:
        probs = _probabilities(model.head, fixed_batches(
            torch.from_numpy(features(split)), torch.tensor(split.labels), 512)(), run.device)
        return evaluate_predictions(split.labels, probs, dataset.class_names, split.files)

    train_images = images(splits["train"], c.augmentation, sharded=True)
    plan = TrainingPlan(
        dataset, splits, model, train=train_images.train,
        val=images(splits["val"], sharded=True).evaluate,
        num_batches=num_batches(len(splits["train"]), c.batch_size), optimizer=None,
        evaluate=evaluate, set_train_mode=batchnorm.train_mode_setter(
            c.batch_norm if c.mode == FINE_TUNING else "train"), epochs=c.epochs,
        features=features)
    if c.mode == FINE_TUNING:
        available = len(run.spec.stages(model.backbone))
        if c.unfreeze_stages is not None and c.unfreeze_stages > available:
            raise ConfigError(
                f"Option 'unfreeze_stages' = {c.unfreeze_stages} is more than the {available} "
                f"stages {run.spec.display_name} has: give 0 to {available}, or leave it unset to "
                f"train all stages.")
        if c.probe_start:
            _start_from_probe(run, model, plan, files, store)
        set_trainable_stages(model, run.spec, 0 if c.warmup_epochs else c.unfreeze_stages)
        if c.warmup_epochs:  # optional head-only epochs (LP-FT makes them unnecessary)
            plan.callbacks.append(cb.Unfreeze(c.warmup_epochs, lambda: set_trainable_stages(
                model, run.spec, c.unfreeze_stages)))
        if c.batch_norm == "reestimate":  # whole batches: statistics of 4 images are too noisy
            full = ImageBatches(store.get_many, splits["train"].positions, splits["train"].labels,
                                run.pipeline, c.batch_size, c.seed)
            plan.callbacks.append(cb.ReestimateBatchNorm(
                lambda: (x for x, _ in full.evaluate()), run.device, run.cancel))
        if c.stay_close > 0:
            plan.penalty = _stay_close_penalty(model, c.stay_close)
        plan.warmup_steps = plan.num_batches  # one epoch (see CosineSchedule)
        if cpu_micro:
            plan.micro_batch = CPU_MICRO_BATCH
    else:
        batchnorm.set_momentum(model, 0.1)
    return plan


def _start_from_probe(run: "_Run", model: TransferModel, plan: TrainingPlan, files: list[str],
                      store: ImageStore) -> None:
    """LP-FT: fit the linear probe on the pretrained backbone's features (from the decoded
    images, through the feature cache) and start the head from it; validate it as epoch 0."""
    c, splits = run.config, plan.splits
    positions = splits["train"].positions + splits["val"].positions
    index = {files[i]: i for i in positions}
    feats = _features(run, [files[i] for i in positions], network=model.backbone,
                             cache=run.feature_cache, device=run.device,
                             load_image=lambda path: store.get_many([index[path]])[0],
                             mixed_precision=c.mixed_precision, progress=run.stage("probe"),
                             batch_size=(CPU_MICRO_BATCH or 32) if run.device.type == "cpu" else 32,
                             cancel=run.cancel)
    n_train = len(splits["train"])
    train_x = feats.center(range(n_train))
    train_y = np.asarray(splits["train"].labels)
    head = fit_head(train_x, train_y, plan.dataset.num_classes, l2=c.head_l2,
                    class_weights=c.class_weights, seed=c.seed, cancel=run.cancel)
    head.copy_into(_linear(model))
    logits = torch.from_numpy(head.logits(train_x))
    weights = torch.from_numpy(row_weights(train_y, plan.dataset.num_classes, c.class_weights))
    ce = torch.nn.functional.cross_entropy(logits, torch.from_numpy(train_y), reduction="none",
                                           label_smoothing=c.label_smoothing)
    plan.start_metrics = {"train_loss": float((ce * weights).sum() / weights.sum()),
                          "train_acc": float((logits.argmax(1).numpy() == train_y).mean())}
    plan.probe = {"l2": head.l2}
    counts = np.bincount(train_y, minlength=plan.dataset.num_classes)
    smallest = int(counts.argmin())
    if counts[smallest] < MIN_FINE_TUNING_IMAGES:
        plan.epochs = 0
        plan.fallback = (f"Fine-tuning needs at least {MIN_FINE_TUNING_IMAGES} training images "
                         f"per class to do better than feature extraction, and class "
                         f"'{plan.dataset.class_names[smallest]}' has {counts[smallest]}. The run "
                         f"kept the feature-extraction model; add images to fine-tune.")


def _stay_close_penalty(model: TransferModel, alpha: float) -> Callable[[], torch.Tensor]:
    """L2-SP: alpha/2 x squared distance of the trainable backbone weights from their start."""
    pairs = [(p, p.detach().clone()) for p in model.backbone.parameters()
             if p.requires_grad and p.ndim > 1]

    def penalty() -> torch.Tensor:
        return 0.5 * alpha * sum((p - p0).pow(2).sum() for p, p0 in pairs)

    return penalty
