"""A saved model's own pooled backbone features: what its head sees.

For a feature-extraction model the backbone is the pretrained one, so its features are the cached
ImageNet-backbone features training already computed (`features.feature_recipe`). A fine-tuned or
recalibrated backbone has other weights: its features are cached under a recipe named by a digest
of those weights, so an edited model never reads another model's vectors.
"""

from __future__ import annotations

import hashlib
from typing import Optional, Sequence

import numpy as np
import torch

from .features import (CENTER_VIEW, DatasetFeatures, FeatureCache, FeatureExtractor,
                       default_feature_cache, feature_recipe)
from .inputs import InputPipeline
from .jobs import CancelToken, ProgressCallback, no_progress
from .model_file import LoadedModel


def weights_digest(module: torch.nn.Module) -> str:
    """A hex digest of a module's parameters and buffers (names, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode("utf-8"))
        digest.update(str(tuple(tensor.shape)).encode("ascii"))
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _pretrained_digest(loaded: LoadedModel) -> Optional[str]:
    from .models.registry import build_network

    try:
        return weights_digest(build_network(loaded.spec, pretrained=True, allow_download=False))
    except Exception:  # weights not here (a torchvision backbone never downloaded), or damaged
        return None


def model_feature_recipe(loaded: LoadedModel) -> str:
    """The cache recipe of the model's backbone features: the shared pretrained one when the
    backbone still has its pretrained weights, else one named by the weights' digest."""
    own = weights_digest(loaded.model.backbone)
    if loaded.preprocessing == loaded.spec.preprocessing and own == _pretrained_digest(loaded):
        return feature_recipe(loaded.spec)
    size = loaded.preprocessing.resize_size
    return f"{loaded.spec.name}|model-{own[:20]}|{size}|{loaded.preprocessing.input_size}"


def model_features(loaded: LoadedModel, files: Sequence[str], *,
                   cache: Optional[FeatureCache] = None, device: Optional[torch.device] = None,
                   batch_size: int = 32, recipe: Optional[str] = None,
                   progress: ProgressCallback = no_progress,
                   cancel: Optional[CancelToken] = None) -> DatasetFeatures:
    """The centre-view features of `files` from `loaded`'s backbone, cached.

    Args:
        recipe: `model_feature_recipe(loaded)` when already known (it hashes the weights).

    Returns:
        One (1, dim) row per file; files that could not be read are in `failures`.
    """
    from .data import load_image_array

    device = device or torch.device("cpu")
    network = loaded.model.backbone.to(device).eval()
    extractor = FeatureExtractor(network, InputPipeline(loaded.preprocessing),
                                 recipe or model_feature_recipe(loaded), loaded.spec.feature_dim,
                                 device, batch_size=batch_size)
    cache = cache or default_feature_cache()
    size = loaded.preprocessing.resize_size
    try:
        return extractor.extract(cache, list(files), [[CENTER_VIEW]] * len(files),
                                 lambda p: load_image_array(p, size), progress=progress,
                                 cancel=cancel, spill_dir=cache.directory)
    finally:
        cache.save()


def head_probabilities(loaded: LoadedModel, features: np.ndarray) -> np.ndarray:
    """(n, classes) class probabilities of the model's head on backbone features."""
    if not len(features):
        return np.zeros((0, len(loaded.class_names)))
    with torch.no_grad():
        logits = loaded.model.head(torch.as_tensor(np.asarray(features), dtype=torch.float32))
    return torch.softmax(logits.float(), 1).numpy()
