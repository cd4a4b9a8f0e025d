"""Backbone features, computed once per image and view and reused: a core service.

Feature-extraction training reads its inputs from here, and so will later tools that all work on
the same vectors (duplicate and leak detection, label-error ranking, out-of-distribution flags,
cross-validation). A *recipe* names what produced a vector (backbone, weights, preprocessing, view);
a row is found by the image file's path, size and modification time, so an edited file is
recomputed. The cache lives in memory and, given a directory, also on disk across sessions
(feature_store.py: bounded, least recently used folders deleted first).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

from .feature_cache import (FeatureCache, configure_default_feature_cache,  # noqa: F401
                            default_feature_cache)
from .feature_matrix import DatasetFeatures, allocate_rows, release_pages, starts_of
from .jobs import CancelToken, Progress, ProgressCallback, no_progress
from .inputs import InputPipeline

if TYPE_CHECKING:
    from .models.spec import BackboneSpec

FEATURE_FORMAT_VERSION = 1
CENTER_VIEW = "center"
LOOKUP_CHUNK = 8192  # cache rows looked up at a time
RELEASE_EVERY = 64  # batches between releasing a disk-backed matrix's pages


def file_signature(path: str) -> str:
    """Identifies a file's current content cheaply: path, size and modification time."""
    st = os.stat(path)
    return f"{path}|{st.st_size}|{st.st_mtime_ns}"


def stable_seed(*parts: object) -> int:
    """A 63-bit seed from any printable parts, the same in every process (unlike `hash`)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def view_names(augmentation: str, augmented_views: int, seed: int) -> list[str]:
    """The centre view, then `augmented_views` named augmented views (none without augmentation)."""
    if augmentation == "none":
        return [CENTER_VIEW]
    return [CENTER_VIEW] + [f"{augmentation}:seed={seed}:view={k}" for k in range(augmented_views)]


class FeatureExtractor:
    """Runs a frozen backbone (eval mode, no gradients) over images and fills a FeatureCache."""

    def __init__(self, network: nn.Module, pipeline: InputPipeline, recipe_prefix: str,
                 feature_dim: int, device: torch.device, batch_size: int = 32,
                 mixed_precision: bool = False) -> None:
        self.network = network.eval()
        self.pipeline = pipeline
        self.recipe_prefix = f"v{FEATURE_FORMAT_VERSION}|{recipe_prefix}"
        self.dim = feature_dim
        self.device = device
        self.batch_size = batch_size
        self.amp = mixed_precision and device.type == "cuda"

    def recipe(self, view: str) -> str:
        return f"{self.recipe_prefix}|{view}"

    @torch.no_grad()
    def _forward(self, inputs: torch.Tensor) -> np.ndarray:
        inputs = inputs.to(self.device)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            feats = self.network(inputs)
        return feats.float().cpu().numpy()

    def _view_inputs(self, arrays: np.ndarray, view: str, signatures: Sequence[str]) -> torch.Tensor:
        if view == CENTER_VIEW:
            return self.pipeline.eval_batch(arrays)
        preset = view.split(":", 1)[0]
        parts = []
        for array, sig in zip(arrays, signatures):  # each image's views depend only on itself
            gen = torch.Generator().manual_seed(stable_seed(view, sig))
            parts.append(self.pipeline.train_batch(array[None], preset, gen))
        return torch.cat(parts)

    def extract(self, cache: FeatureCache, files: Sequence[str], views_per_file: Sequence[Sequence[str]],
                load_image: Callable[[str], np.ndarray], *, progress: ProgressCallback = no_progress,
                cancel: Optional[CancelToken] = None,
                spill_dir: Optional[str | os.PathLike] = None) -> DatasetFeatures:
        """Features of every file's views, from the cache or computed (each image decoded once),
        written into one matrix (disk-backed when large: feature_matrix.py; `spill_dir` is where).

        Files that could not be decoded are in the result's `failures` with no rows.
        """
        cancel = cancel or CancelToken()
        signatures, failures = [], {}
        for i, path in enumerate(files):
            try:
                signatures.append(file_signature(path))
            except OSError as exc:
                signatures.append(f"{path}|missing")
                failures[i] = f"cannot read file: {exc.strerror or exc}"
        counts = np.array([len(views) for views in views_per_file], np.int64)
        starts = starts_of(counts)
        matrix = allocate_rows(int(counts.sum()), self.dim, spill_dir)

        def slots(files_at: Sequence[int], view: str) -> list[int]:
            """The matrix rows of `view` of those files."""
            return [starts[i] + views_per_file[i].index(view) for i in files_at]
        all_views = sorted({v for views in views_per_file for v in views})
        todo: set[int] = set()
        for view in all_views:
            wanted = [i for i, views in enumerate(views_per_file)
                      if view in views and i not in failures]
            for k in range(0, len(wanted), LOOKUP_CHUNK):  # bounded memory for large sets
                chunk = wanted[k:k + LOOKUP_CHUNK]
                found, missing = cache.lookup(self.recipe(view), [signatures[i] for i in chunk],
                                              self.dim)
                missed = set(missing)
                have = [n for n in range(len(chunk)) if n not in missed]
                if have:
                    matrix[slots([chunk[n] for n in have], view)] = found[have]
                todo.update(chunk[n] for n in missing)
        order = sorted(todo)
        for view in all_views:
            cache.reserve(self.recipe(view), self.dim,
                          sum(1 for i in order if view in views_per_file[i]))
        batches = [order[k:k + self.batch_size] for k in range(0, len(order), self.batch_size)]

        def decode(batch: list[int]) -> list[tuple[int, np.ndarray | str]]:
            out = []
            for i in batch:
                try:
                    out.append((i, load_image(files[i])))
                except Exception as exc:  # ImageReadError, or anything a broken file raises
                    out.append((i, getattr(exc, "reason", None) or f"cannot decode: {exc}"))
            return out

        done = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode") as pool:
            pending = pool.submit(decode, batches[0]) if batches else None
            for b in range(len(batches)):
                decoded = pending.result()
                pending = pool.submit(decode, batches[b + 1]) if b + 1 < len(batches) else None
                cancel.raise_if_cancelled()
                good = [(i, a) for i, a in decoded if not isinstance(a, str)]
                failures.update((i, a) for i, a in decoded if isinstance(a, str))
                if good:
                    idx = [i for i, _ in good]
                    arrays = np.stack([a for _, a in good])
                    for view in all_views:
                        rows = [n for n, i in enumerate(idx) if view in views_per_file[i]]
                        if not rows:
                            continue
                        sigs = [signatures[idx[n]] for n in rows]
                        feats = self._forward(self._view_inputs(arrays[rows], view, sigs))
                        matrix[slots([idx[n] for n in rows], view)] = feats
                        cache.store(self.recipe(view), sigs, feats)
                if b % RELEASE_EVERY == RELEASE_EVERY - 1:
                    release_pages(matrix)  # written rows go to disk, not to this process
                done += len(decoded)
                progress(Progress(done / len(order), f"Computing features {done}/{len(order)}",
                                  stage="features", done=done, total=len(order)))
        counts[list(failures)] = 0
        release_pages(matrix)
        return DatasetFeatures(list(files), matrix, starts, counts, failures)


def feature_recipe(spec: "BackboneSpec") -> str:
    """What identifies a backbone's features in the cache: name, weights and input size."""
    return f"{spec.name}|imagenet|{spec.preprocessing.resize_size}"


def dataset_features(spec: "BackboneSpec", files: Sequence[str], *,
                     network: Optional[nn.Module] = None, augmentation: str = "none",
                     augmented_views: int = 0, seed: int = 0,
                     views_for: Optional[Callable[[int], bool]] = None,
                     cache: Optional[FeatureCache] = None, device: Optional[torch.device] = None,
                     load_image: Optional[Callable[[str], np.ndarray]] = None,
                     mixed_precision: bool = False, batch_size: int = 32,
                     progress: ProgressCallback = no_progress,
                     cancel: Optional[CancelToken] = None) -> DatasetFeatures:
    """Features of `files` from `spec`'s pretrained backbone: cached, computed where missing.

    The one public way to get backbone features (training, cross-validation, benchmarks and the
    data tools use it); it owns the cache recipe.

    Args:
        spec: The backbone's registry entry.
        files: Image paths (e.g. `[s.path for s in scan.samples]`).
        network: The backbone module (pooled features out); built with pretrained weights from
            the registry when None (no download: the weights must be here).
        augmentation, augmented_views, seed: With augmentation, files for which `views_for(i)`
            is true (default: all) also get `augmented_views` augmented views.
        cache: Where vectors are looked up and stored (default: the process-wide cache).
        load_image: path -> uint8 (S, S, 3) array at the spec's resize size (default: decode).
    """
    from .data import load_image_array
    from .models.registry import build_network

    size = spec.preprocessing.resize_size
    if network is None:
        network = build_network(spec, pretrained=True, allow_download=False)
    device = device or torch.device("cpu")
    network.to(device)
    views = view_names(augmentation, augmented_views, seed)
    per_file = [views if views_for is None or views_for(i) else views[:1] for i in range(len(files))]
    extractor = FeatureExtractor(network, InputPipeline(spec.preprocessing), feature_recipe(spec),
                                 spec.feature_dim, device, batch_size=batch_size,
                                 mixed_precision=mixed_precision)
    cache = cache or default_feature_cache()
    try:
        return extractor.extract(cache, list(files), per_file,
                                 load_image or (lambda p: load_image_array(p, size)),
                                 progress=progress, cancel=cancel, spill_dir=cache.directory)
    finally:
        cache.save()  # what was computed before a Stop is kept too
