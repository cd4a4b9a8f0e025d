"""Which backbone to use for a dataset, in minutes: rank backbones on their cached features.

Fine-tuning every backbone to find the best one takes hours on a laptop. Extracting each
backbone's features once (the feature cache keeps them for later runs) and scoring them is
minutes the first time and seconds after. Per backbone, on every labelled image (splits pooled):

- the linear probe's stratified k-fold accuracy (mean and spread, the folds of `crossval.py`):
  what feature extraction would reach, and the basis of the recommendation;
- leave-one-out k-NN accuracy and LogME (`transferability.py`): two training-free checks.

The recommendation is the best probe accuracy (ties: the higher LogME, then the fewer GFLOPs),
with the time fine-tuning it would take on this computer (`time_estimate.planned_seconds`, the
estimate the Compare window shows). Backbones whose weights are not here are listed, not ranked
(naming them with `backbones=` downloads them unless `allow_download` is false).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .crossval import DEFAULT_FOLDS, DEFAULT_SEED, check_folds, fold_heads
from .data import DatasetScan, scan_dataset
from .errors import ConfigError
from .features import FeatureCache, dataset_features
from .jobs import CancelToken, Progress, ProgressCallback, StageProgress, no_progress
from .models import DOWNLOAD_NEEDED, BackboneSpec, all_backbones, availability, get_backbone
from .models.registry import build_network
from .training.config import FINE_TUNING, TrainConfig
from .transferability import DEFAULT_NEIGHBOURS, knn_accuracy, logme

NOT_HERE = ("not available offline: download it on the Model page or with "
            "`transfer-gui backbones --download NAME`")


@dataclass
class BackboneRank:
    """One backbone's scores. Seconds: `feature_seconds` computing or loading the features
    (`computed_images` of them were computed, the rest came from the cache), `score_seconds`
    the probe's folds, k-NN and LogME."""

    backbone: str
    display_name: str
    gflops: float
    cv_accuracy: float
    cv_std: float
    fold_accuracies: list[float]
    knn_accuracy: float
    logme: float
    feature_seconds: float
    score_seconds: float
    computed_images: int


@dataclass
class Ranking:
    """Backbones best first, the ones not ranked, and the recommendation."""

    data_dir: str
    folds: int
    seed: int
    neighbours: int
    class_names: list[str]
    num_images: int
    ranked: list[BackboneRank] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    fine_tuning_seconds: Optional[float] = None
    fine_tuning_epochs: int = 0
    seconds: float = 0.0

    @property
    def recommended(self) -> Optional[BackboneRank]:
        return self.ranked[0] if self.ranked else None

    def recommendation(self) -> str:
        """The choice in plain words, with how long fine-tuning it would take."""
        best = self.recommended
        if best is None:
            return "No backbone could be ranked."
        text = (f"Use {best.display_name} ({best.backbone}): its features give the best "
                f"cross-validated accuracy, {best.cv_accuracy:.1%} \u00b1 {best.cv_std:.1%}.")
        tied = [r for r in self.ranked[1:] if round(r.cv_accuracy, 9) == round(best.cv_accuracy, 9)]
        if tied:
            text += (f" It ties with {_join(r.display_name for r in tied)} and is chosen for its "
                     f"{'higher LogME' if best.logme != tied[0].logme else 'lower cost'}.")
        close = [r for r in self.ranked[1:] if r not in tied
                 and best.cv_accuracy - r.cv_accuracy <= best.cv_std]
        if close:
            text += (f" {_join(r.display_name for r in close)} {'is' if len(close) == 1 else 'are'} "
                     f"within the spread across folds: the difference may not matter.")
        if self.fine_tuning_seconds is not None:
            text += (f" Fine-tuning {best.display_name} on these {self.num_images} images would take about "
                     f"{_about(self.fine_tuning_seconds)} on this computer "
                     f"({self.fine_tuning_epochs} epochs; early stopping may end it sooner).")
        return text

    def to_dict(self) -> dict:
        out = asdict(self)
        out["recommended"] = self.recommended.backbone if self.recommended else None
        out["recommendation"] = self.recommendation()
        return out


def _join(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _about(seconds: float) -> str:
    """"40 seconds", "3 minutes", "1.5 hours"."""
    if seconds < 90:
        return f"{max(round(seconds), 1)} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"


def backbones_to_rank(names: Optional[Sequence[str]] = None, *, allow_download: bool = False
                      ) -> tuple[list[BackboneSpec], list[str]]:
    """(the backbones to rank, the names of those left out for want of weights).

    Without `names`, every registered backbone whose weights are here (bundled or downloaded
    before): ranking all of them must not start downloading gigabytes. Named ones are ranked
    when their weights are here or `allow_download` (the command line's default, as `train`'s)."""
    specs = [get_backbone(n) for n in dict.fromkeys(names)] if names else all_backbones()
    here, missing = [], []
    for spec in specs:
        if availability(spec) != DOWNLOAD_NEEDED or (names and allow_download):
            here.append(spec)
        else:
            missing.append(spec.name)
    return here, missing


def rank_backbones(data_dir: str, backbones: Optional[Sequence[str]] = None, *,
                   folds: int = DEFAULT_FOLDS, seed: int = DEFAULT_SEED,
                   neighbours: int = DEFAULT_NEIGHBOURS,
                   class_weights: str = TrainConfig.class_weights,
                   leave_out_empty_classes: bool = False, estimate: bool = True,
                   cache: Optional[FeatureCache] = None, allow_download: bool = False,
                   scan: Optional[DatasetScan] = None,
                   progress: ProgressCallback = no_progress,
                   cancel: Optional[CancelToken] = None) -> Ranking:
    """Scores each backbone on every labelled image of `data_dir` and ranks them (see the
    module docstring). The images are scanned once, or not at all when `scan` is a scan of
    `data_dir` already made (the Data page's, with the user's corrections: its samples and
    labels are ranked as they are, `leave_out_empty_classes` is then unused); each backbone's
    features come from `cache` where it has them. Raises a UserError (a DatasetError,
    ConfigError, WeightsError) on bad input, before any feature is computed where it can be
    told before."""
    TrainConfig.for_mode(data_dir, seed=seed, class_weights=class_weights)  # as `cv` checks them
    tuning = TrainConfig.for_mode(data_dir, FINE_TUNING)  # its split sizes time fine-tuning
    if neighbours < 1:
        raise ConfigError(f"k-NN needs at least 1 neighbour (got {neighbours}).")
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    specs, missing = backbones_to_rank(backbones, allow_download=allow_download)
    if not specs:
        raise ConfigError(f"No backbone to rank: {_join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} {NOT_HERE}.")
    if scan is None:
        scan = scan_dataset(data_dir, val_fraction=tuning.val_fraction,
                            test_fraction=tuning.test_fraction, seed=tuning.split_seed,
                            leave_out_empty_classes=leave_out_empty_classes,
                            progress=StageProgress(progress, 0, .02, "scan"), cancel=cancel)
    elif Path(scan.root).resolve() != Path(data_dir).resolve():
        raise ValueError(f"the scan is of {scan.root}, not of {data_dir}")
    files = [s.path for s in scan.samples]
    labels = np.array([s.label for s in scan.samples], dtype=int)
    check_folds(labels, scan.class_names, folds)
    end_features = .02 + .68 * len(specs) / (len(specs) + 1)  # cached features: mostly scoring
    features, failures = [], {}
    for i, spec in enumerate(specs):
        step = (end_features - .02) / len(specs)
        computed = _CountComputed(StageProgress(progress, .02 + i * step, .02 + (i + 1) * step,
                                          "features"), spec.display_name)
        t0 = time.perf_counter()
        network = build_network(spec, pretrained=True, allow_download=allow_download,
                                cancel=cancel)
        feats = dataset_features(spec, files, network=network, cache=cache, progress=computed,
                                 cancel=cancel)
        features.append((feats, time.perf_counter() - t0, computed.total))
        failures.update(feats.failures)
    keep = np.array([i for i in range(len(files)) if i not in failures], dtype=int)
    y = labels[keep]
    check_folds(y, scan.class_names, folds)
    result = Ranking(str(scan.root), folds, seed, neighbours, scan.class_names, len(keep),
                     unavailable=missing,
                     skipped=[{"path": files[i], "reason": r} for i, r in sorted(failures.items())])
    scoring = StageProgress(progress, end_features, .95 if estimate else 1.0, "scores")
    for i, (spec, (feats, feature_seconds, computed)) in enumerate(zip(specs, features)):
        scoring(Progress(i / len(specs), f"Scoring {spec.display_name}"))
        t0 = time.perf_counter()
        x = feats.center(keep)
        accuracies = [float((head.logits(x[val]).argmax(1) == y[val]).mean())
                      for val, head in fold_heads(x, y, len(scan.class_names), folds, seed,
                                                  class_weights=class_weights, cancel=cancel)]
        cancel.raise_if_cancelled()
        result.ranked.append(BackboneRank(
            spec.name, spec.display_name, spec.gflops, float(np.mean(accuracies)),
            float(np.std(accuracies, ddof=1)) if folds > 1 else 0.0, accuracies,
            knn_accuracy(x, y, neighbours), logme(x, y), feature_seconds,
            time.perf_counter() - t0, computed))
    result.ranked = best_first(result.ranked)
    if estimate:
        progress(Progress(.95, "Timing fine-tuning", stage="estimate"))
        result.fine_tuning_seconds, result.fine_tuning_epochs = _fine_tuning_time(
            data_dir, result.ranked[0].backbone, scan, cancel)
    progress(Progress(1.0, "Done", stage="estimate" if estimate else "scores"))
    result.seconds = time.perf_counter() - started
    return result


def best_first(ranks: Sequence[BackboneRank]) -> list[BackboneRank]:
    """Best probe accuracy first; ties: the higher LogME, then the fewer GFLOPs (faster)."""
    return sorted(ranks, key=lambda r: (-round(r.cv_accuracy, 9), -r.logme, r.gflops))


class _CountComputed:
    """A progress callback that remembers how many images the feature pass computed (it
    reports only those: none when every image was in the cache)."""

    def __init__(self, progress: ProgressCallback, name: str) -> None:
        self.progress, self.name, self.total = progress, name, 0

    def __call__(self, p: Progress) -> None:
        self.total = p.total or self.total
        self.progress(Progress(p.fraction, f"{self.name}: {p.message}", p.eta_seconds, p.stage,
                               p.done, p.total))


def _fine_tuning_time(data_dir: str, backbone: str, scan, cancel: CancelToken
                      ) -> tuple[float, int]:
    """(seconds, epochs) of fine-tuning `backbone` with the mode's defaults on `scan`'s split:
    the Compare window's estimate (per-image costs measured on a few of the images)."""
    from .training.image_costs import measure_image_costs
    from .training.time_estimate import SplitSizes, planned_seconds

    config = TrainConfig.for_mode(data_dir, FINE_TUNING, backbone=backbone)
    sizes = SplitSizes(*(len(scan.split(name)) for name in ("train", "val", "test")))
    costs = measure_image_costs(backbone, [s.path for s in scan.samples], config.device,
                                cancel=cancel)
    return planned_seconds(config, sizes, costs), config.epochs
