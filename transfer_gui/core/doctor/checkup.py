"""The data doctor's one pass: hash, backbone features (cached), thumbnails (cached), then each
check on those arrays in seconds. Called by `transfer-gui doctor` and the Data page's job."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Sequence

import numpy as np

from ..data import DatasetScan, ImageReadError
from ..data.splits import split_word
from ..features import (DatasetFeatures, FeatureCache, dataset_features, default_feature_cache,
                        file_signature)
from ..jobs import CancelToken, Progress, ProgressCallback, StageProgress, no_progress
from ..models import BackboneSpec, get_backbone
from ..models.registry import build_network
from . import similar
from .labels import folds_for, likely_label_errors
from .outliers import outliers
from .pictures import empty_look, thumbnail
from .report import CopyGroup, DoctorReport, LabelFinding, OddPicture, Picture

THUMBNAIL_RECIPE = f"doctor-thumbnail|{similar.THUMB_SIDE}|grey|v1"
FEW_PER_CLASS = 10  # fewer pictures in a class: say so
FEW_HELD_OUT = 5  # fewer val/test pictures of a class: its score there is very uncertain
IMBALANCE = 4.0  # largest class this many times the smallest: say so


def _digests(files: Sequence[str], cancel: CancelToken) -> list[Optional[str]]:
    out: list[Optional[str]] = []
    for path in files:
        cancel.raise_if_cancelled()
        try:
            out.append(similar.file_digest(path))
        except OSError:
            out.append(None)
    return out


def _thumbnails(files: Sequence[str], cache: FeatureCache, progress: ProgressCallback,
                cancel: CancelToken) -> tuple[np.ndarray, dict[int, str]]:
    """(rows, failures): one grey thumbnail per file, from the cache where it has them."""
    dim = similar.THUMB_SIDE ** 2
    signatures = [file_signature(path) for path in files]
    rows, missing = cache.lookup(THUMBNAIL_RECIPE, signatures, dim)
    failures: dict[int, str] = {}

    def one(index: int) -> tuple[int, Optional[np.ndarray], str]:
        if cancel.cancelled:
            return index, None, "stopped"
        try:
            return index, thumbnail(files[index]), ""
        except ImageReadError as error:
            return index, None, error.reason

    done_rows, done_signatures = [], []
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="thumbnail") as pool:
        for count, (index, row, reason) in enumerate(pool.map(one, missing), start=1):
            if row is None:
                failures[index] = reason
            else:
                rows[index] = row
                done_rows.append(row)
                done_signatures.append(signatures[index])
            if count % 50 == 0 or count == len(missing):
                progress(Progress(count / len(missing), f"Thumbnails {count}/{len(missing)}"))
    cancel.raise_if_cancelled()
    if done_rows:
        cache.store(THUMBNAIL_RECIPE, done_signatures, np.stack(done_rows))
        cache.save()
    return rows, failures


def _copy_groups(pictures: list[Picture], digests: list[Optional[str]], features: np.ndarray,
                 thumbs: np.ndarray, usable: np.ndarray) -> list[CopyGroup]:
    links: dict[tuple[int, int], float] = {}
    for members in similar.exact_groups(digests):
        for a, b in zip(members, members[1:]):
            links[(a, b)] = 1.0
    for a, b, score in similar.copy_pairs(features, thumbs, usable):
        links[(a, b)] = max(links.get((a, b), 0.0), score)
    groups = []
    for members in similar.connected_groups(len(pictures), links):
        member_set = set(members)
        scores = [s for (a, b), s in links.items() if a in member_set and b in member_set]
        exact = len({digests[i] for i in members}) == 1 and digests[members[0]] is not None
        groups.append(CopyGroup(tuple(pictures[i] for i in members), exact, min(scores)))
    order = {"label conflict": 0, "leak": 1, "copies": 2}
    return sorted(groups, key=lambda g: (order[g.problem], g.pictures[0].path))


def balance_notes(scan: DatasetScan) -> list[str]:
    """Plain-word notes on class sizes and on validation/test pictures per class."""
    counts = scan.counts()
    totals = {name: sum(by_split.values()) for name, by_split in counts.items()}
    notes = []
    small = [name for name, total in totals.items() if total < FEW_PER_CLASS]
    if small:
        notes.append(f"Few pictures in {', '.join(repr(n) for n in small)} (under "
                     f"{FEW_PER_CLASS}): add more, or expect the model to guess these classes.")
    if totals and min(totals.values()) > 0:
        largest, smallest = max(totals, key=totals.get), min(totals, key=totals.get)
        if totals[largest] >= IMBALANCE * totals[smallest]:
            notes.append(f"'{largest}' has {totals[largest]} pictures, '{smallest}' only "
                         f"{totals[smallest]}: the model will lean to the bigger class. Turn on "
                         f"class weights (Settings) or add pictures of '{smallest}'.")
    for split in ("val", "test"):
        thin = [name for name, by_split in counts.items() if 0 < by_split[split] < FEW_HELD_OUT]
        if thin and any(by_split[split] for by_split in counts.values()):
            word = split_word(split)
            which = ("every class" if len(thin) == len(counts)
                     else ", ".join(map(repr, thin)))
            notes.append(f"Under {FEW_HELD_OUT} {word} pictures of {which}: the {word} score "
                         f"of {'each class' if len(thin) == len(counts) else 'these classes'} "
                         f"will be very uncertain.")
    return notes


def backbone_features(spec: BackboneSpec, files: Sequence[str], cache: FeatureCache, *,
                      allow_download: bool, cancel: CancelToken,
                      progress: ProgressCallback) -> DatasetFeatures:
    """The pretrained backbone's centre-view features of `files`, from the cache where it has
    them (the one feature pass of the doctor's checks)."""
    network = build_network(spec, pretrained=True, allow_download=allow_download, cancel=cancel)
    return dataset_features(spec, files, network=network, cache=cache, cancel=cancel,
                            progress=progress)


def label_findings(scan: DatasetScan, features: np.ndarray, rows: np.ndarray, *, seed: int = 0,
                   cancel: Optional[CancelToken] = None,
                   progress: ProgressCallback = no_progress) -> tuple[list[LabelFinding], str]:
    """(likely label errors, why labels were not checked or "") of the scan's samples `rows`,
    whose backbone features are `features` (one row each, in that order)."""
    labels = np.array([scan.samples[int(i)].label for i in rows], dtype=int)
    findings = []
    for found in likely_label_errors(features, labels, scan.num_classes, seed=seed,
                                     cancel=cancel, progress=progress):
        sample = scan.samples[int(rows[found.row])]
        findings.append(LabelFinding(
            Picture(sample.path, scan.class_names[sample.label], sample.split),
            scan.class_names[found.suggested], found.given_probability,
            found.suggested_probability, found.quality))
    note = "" if folds_for(labels) else ("Labels were not checked: every class needs at least "
                                         "2 readable pictures.")
    return findings, note


def examine_dataset(scan: DatasetScan, backbone: str = "efficientnet_lite0", *,
                    cache: Optional[FeatureCache] = None, allow_download: bool = False,
                    seed: int = 0, progress: ProgressCallback = no_progress,
                    cancel: Optional[CancelToken] = None) -> DoctorReport:
    """Every check of the data doctor on one scanned dataset; nothing on disk is changed."""
    cancel = cancel or CancelToken()
    cache = cache or default_feature_cache()
    started = time.perf_counter()
    files = [s.path for s in scan.samples]
    pictures = [Picture(s.path, scan.class_names[s.label], s.split) for s in scan.samples]
    report = DoctorReport(scan.root, backbone, list(scan.class_names), scan.counts(),
                          notes=balance_notes(scan))
    progress(Progress(0.0, "Comparing file contents", stage="hash"))
    digests = _digests(files, cancel)
    spec = get_backbone(backbone)
    feats = backbone_features(spec, files, cache, allow_download=allow_download, cancel=cancel,
                              progress=StageProgress(progress, 0.05, 0.75, "features"))
    thumbs, thumb_failures = _thumbnails(files, cache, StageProgress(progress, 0.75, 0.9,
                                                                     "thumbnails"), cancel)
    failures = {**thumb_failures, **feats.failures}
    report.skipped = [(files[i], reason) for i, reason in sorted(failures.items())]
    usable = np.array([i for i in range(len(files)) if i not in failures], dtype=int)
    features = np.zeros((len(files), spec.feature_dim), np.float32)
    if len(usable):
        features[usable] = feats.center(usable)
    progress(Progress(0.9, "Looking for copies", stage="copies"))
    report.copy_groups = _copy_groups(pictures, digests, features, thumbs, usable)
    cancel.raise_if_cancelled()
    progress(Progress(0.93, "Looking for likely label errors", stage="labels"))
    report.label_findings, report.label_check_note = label_findings(
        scan, features[usable], usable, seed=seed, cancel=cancel)
    for far in outliers(features[usable]):
        report.odd_pictures.append(OddPicture(
            pictures[int(usable[far.row])], "unlike every class",
            f"its nearest pictures are {far.similarity:.2f} alike (typical: {far.typical:.2f})"))
    for index in usable:
        look = empty_look(thumbs[index])
        if look is not None:
            report.odd_pictures.append(OddPicture(pictures[index], look.reason, look.detail))
    report.seconds = time.perf_counter() - started
    progress(Progress(1.0, report.summary(), stage="done"))
    return report

