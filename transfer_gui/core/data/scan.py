"""Scanning a dataset folder into labelled train / val / test samples.

Two layouts are understood:

* "classes": ROOT/<class>/... - every split is carved from each class's images.
* "splits": ROOT/train/<class>/... plus optional ROOT/val (or valid, validation) and
  ROOT/test - the folders on disk are used; a missing val split is carved from train.

Images in nested folders below a class folder belong to that class.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import ConfigError, DatasetError
from ..jobs import CancelToken, Progress, ProgressCallback, no_progress
from .checks import check_classes, check_extra_classes, left_out_warning
from .dataset import SPLIT_NAMES, DatasetScan, Sample, SkippedFile
from .links import LinkFence
from .splits import stratified_split
from .walk import NOT_IN_CLASS_FOLDER, FolderListing, ImageWalker, list_folder

__all__ = ["SPLIT_NAMES", "VAL_FOLDER_NAMES", "DatasetScan", "Sample", "SkippedFile",
           "scan_dataset"]

VAL_FOLDER_NAMES = ("val", "valid", "validation")


@dataclass
class _Found:
    """Images per class folder for one split folder (or for ROOT in the classes layout)."""

    images: dict[str, list[str]] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _walk_classes(
    listing: FolderListing, walker: ImageWalker, skipped: list[SkippedFile]
) -> _Found:
    """Walk every class folder of `listing`; loose files there are skipped."""
    for path in listing.files:
        walker.count_file()
        skipped.append(SkippedFile(path, NOT_IN_CLASS_FOLDER))
    skipped.extend(SkippedFile(path, reason) for path, reason in listing.skipped)
    found = _Found()
    for name, path in listing.folders:
        clash = walker.fence.class_link_reason(path) if os.path.islink(path) else None
        if clash is not None:
            skipped.append(SkippedFile(path, clash))
            continue
        result = walker.walk(path)
        found.images[name] = result.images
        found.folders[name] = path
        found.skipped[name] = result.skipped
        skipped.extend(SkippedFile(p, reason) for p, reason in result.skipped)
    return found


def _list_or_fail(path: str) -> FolderListing:
    try:
        return list_folder(path)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise DatasetError(f"cannot read the folder {path}: {reason}", path=path) from None


def _check_root(root: str | os.PathLike[str]) -> str:
    path = os.path.abspath(os.fspath(root))
    if not os.path.exists(path):
        raise DatasetError(
            f"dataset folder not found: {path}. Choose the folder that holds one subfolder "
            "of images per class.",
            path=path,
        )
    if not os.path.isdir(path):
        raise DatasetError(
            f"{path} is a file, not a folder. Choose the folder that holds one subfolder "
            "of images per class.",
            path=path,
        )
    return path


def _check_fractions(val_fraction: float, test_fraction: float) -> tuple[float, float, float]:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ConfigError(
            f"validation and test fractions must each be in [0, 1) and sum to less than 1 "
            f"(got {val_fraction} and {test_fraction})"
        )
    return (1.0 - val_fraction - test_fraction, val_fraction, test_fraction)


def _pick_split_folder(listing: FolderListing, names: tuple[str, ...], root: str) -> str | None:
    matches = [(name, path) for name, path in listing.folders if name.lower() in names]
    if len(matches) > 1:
        found = ", ".join(repr(name) for name, _ in matches)
        raise DatasetError(
            f"{root} has several folders for the same split ({found}); keep only one of them",
            path=root,
        )
    return matches[0][1] if matches else None


def scan_dataset(
    root: str | os.PathLike[str],
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    leave_out_empty_classes: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> DatasetScan:
    """Find the classes and usable images of a dataset folder and assign splits.

    Args:
        root: The dataset folder (see the module docstring for the layouts).
        val_fraction: Share of each class's images carved out for validation when the
            dataset has no val folder.
        test_fraction: Share carved out for testing in the "classes" layout (or when
            ROOT/train is the only split folder).
        seed: Seed of the carving; the same seed gives the same split.
        leave_out_empty_classes: Leave out class folders without a usable image (their
            val/test folders too) instead of refusing the dataset; a warning names them.
        progress: Receives a report every few hundred files (stage "scan").
        cancel: Checked for every file.

    Returns:
        The scan; unusable files are listed in `skipped`, never fatal.

    Raises:
        DatasetError: The folder is missing, has fewer than 2 classes, a class without a
            usable image (EmptyClassError, naming them all), or a val/test class that train
            lacks.
        ConfigError: The fractions are out of range.
        Cancelled: The cancel token was set.
    """
    root_path = _check_root(root)
    fractions = _check_fractions(val_fraction, test_fraction)
    walker = ImageWalker(progress, cancel)
    skipped: list[SkippedFile] = []
    warnings: list[str] = []
    top = _list_or_fail(root_path)
    train_folder = _pick_split_folder(top, ("train",), root_path)
    found: dict[str, _Found] = {}
    split_folders: dict[str, str] = {}
    if train_folder is None:
        layout = "classes"
        walker.fence = LinkFence.around(root_path, {path: name for name, path in top.folders})
        found["train"] = _walk_classes(top, walker, skipped)
        carve: tuple[str, ...] = ("val", "test")
    else:
        layout = "splits"
        folders = {
            "train": train_folder,
            "val": _pick_split_folder(top, VAL_FOLDER_NAMES, root_path),
            "test": _pick_split_folder(top, ("test",), root_path),
        }
        for name, path in top.folders:
            if path not in folders.values():
                warnings.append(
                    f"ignored the folder '{name}': next to a train folder only train, "
                    f"val (or valid, validation) and test folders are read"
                )
        for path in top.files:
            walker.count_file()
            skipped.append(SkippedFile(path, NOT_IN_CLASS_FOLDER))
        skipped.extend(SkippedFile(path, reason) for path, reason in top.skipped)
        split_folders = {split: path for split, path in folders.items() if path is not None}
        listings = {split: _list_or_fail(path) for split, path in split_folders.items()}
        walker.fence = LinkFence.around(root_path, {
            path: f"{split}/{name}" for split, listing in listings.items()
            for name, path in listing.folders})
        for split, listing in listings.items():
            found[split] = _walk_classes(listing, walker, skipped)
        carve = ()
        if folders["val"] is None:
            carve = ("val",) if folders["test"] is not None else ("val", "test")
    train = found["train"]
    left_out = [name for name, images in train.images.items() if not images]
    if leave_out_empty_classes and left_out:
        for split_found in found.values():
            for name in left_out:
                split_found.images.pop(name, None)
                split_found.folders.pop(name, None)
        warnings.append(left_out_warning(left_out))
    else:
        left_out = []
    class_names = list(train.images)
    check_classes(train_folder or root_path, train.images, train.folders, train.skipped)
    if layout == "classes":
        warnings.extend(_split_named_class_warnings(class_names))
    for split in ("val", "test"):
        if split in found:
            check_extra_classes(split, found[split].folders, class_names)
    samples = _assign_splits(found, class_names, carve, fractions, seed)
    progress(Progress(1.0, f"Scanned {walker.files_seen:,} files", stage="scan"))
    scan = DatasetScan(
        root=root_path,
        layout=layout,
        class_names=class_names,
        samples=samples,
        skipped=sorted(skipped, key=lambda item: item.path),
        split_seed=seed,
        split_fractions=fractions,
        splits_made=_splits_made(layout, carve, fractions),
        left_out_classes=left_out,
        layout_warnings=warnings,
        split_folders=split_folders,
    )
    scan.warnings = scan.recomputed_warnings()
    return scan


def _split_named_class_warnings(class_names: list[str]) -> list[str]:
    split_like = ("val", "test", *VAL_FOLDER_NAMES)
    return [
        f"the folder '{name}' is used as a class; to use train/val/test folders instead, "
        "ROOT needs a 'train' folder"
        for name in class_names
        if name.lower() in split_like
    ]


def _splits_made(
    layout: str, carve: tuple[str, ...], fractions: tuple[float, float, float]
) -> list[str]:
    carved = [split for split in carve if fractions[SPLIT_NAMES.index(split)] > 0]
    return ["train", *carved] if layout == "classes" else carved


def _assign_splits(
    found: dict[str, _Found],
    class_names: list[str],
    carve: tuple[str, ...],
    fractions: tuple[float, float, float],
    seed: int,
) -> list[Sample]:
    """Label every image with its class and split, carving `carve` splits out of train."""
    label_of = {name: label for label, name in enumerate(class_names)}
    samples: list[Sample] = []
    for split in ("val", "test"):
        if split in found:
            for name, paths in found[split].images.items():
                samples.extend(Sample(path, label_of[name], split) for path in paths)
    pool = [
        (path, label_of[name]) for name, paths in found["train"].images.items() for path in paths
    ]
    parts = ("train", *carve)
    weights = tuple(fractions[SPLIT_NAMES.index(part)] for part in parts)
    if len(parts) > 1 and sum(weights[1:]) > 0:
        if "test" not in carve:  # carving val only: it takes val_fraction of train's images
            weights = (1.0 - weights[1], weights[1])
        indices = stratified_split([label for _, label in pool], weights, seed)
    else:
        parts, indices = ("train",), [list(range(len(pool)))]
    for part, part_indices in zip(parts, indices):
        samples.extend(Sample(pool[i][0], pool[i][1], part) for i in part_indices)
    samples.sort(key=lambda sample: sample.path)
    return samples
