"""Feature extraction's automatic setting: the linear probe's L2 strength, chosen by
cross-validation on the training images (`heads.choose_l2`, exactly what a run with "Automatic"
regularisation does), surfaced with each strength's mean fold accuracy. Seconds once the
features are cached; the features it computes are the ones the run then finds in the cache.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..data import DatasetScan
from ..features import FeatureCache, dataset_features
from ..heads import choose_l2
from ..jobs import CancelToken, ProgressCallback, StageProgress, no_progress
from ..models import get_backbone
from ..models.registry import build_network
from ..training.config import TrainConfig
from ..training.setup import pick_device


def probe_strength(scan: DatasetScan, config: TrainConfig, *, cache: FeatureCache,
                   allow_download: bool = True, progress: ProgressCallback = no_progress,
                   cancel: Optional[CancelToken] = None) -> tuple[float, dict[float, float]]:
    """(the chosen L2 strength, mean fold accuracy per strength tried) on `scan`'s training
    images, with `config`'s backbone, class weights and seed."""
    spec = get_backbone(config.backbone)
    train = [s for s in scan.samples if s.split == "train"]
    network = build_network(spec, pretrained=True, allow_download=allow_download, cancel=cancel)
    feats = dataset_features(spec, [s.path for s in train], network=network, cache=cache,
                             device=pick_device(config.device),
                             mixed_precision=config.mixed_precision,
                             progress=StageProgress(progress, 0, .9, "prepare"), cancel=cancel)
    usable = [i for i in range(len(train)) if i not in feats.failures]
    return choose_l2(feats.center(usable), np.array([train[i].label for i in usable]),
                     scan.num_classes, class_weights=config.class_weights, seed=config.seed,
                     cancel=cancel, progress=StageProgress(progress, .9, 1, "probe"))
