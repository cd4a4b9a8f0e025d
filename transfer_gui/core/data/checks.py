"""Dataset sanity rules: errors that stop a scan and warnings that only inform."""

from __future__ import annotations

import os

from ..errors import DatasetError, EmptyClassError
from .splits import split_word

MIN_CLASSES = 2
SMALL_CLASS_IMAGES = 10
MAX_IMBALANCE_RATIO = 3.0


def _skipped_hint(skipped: list[tuple[str, str]]) -> str:
    if not skipped:
        return "no files skipped"
    path, reason = skipped[0]
    more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
    plural = "file" if len(skipped) == 1 else "files"
    return f"{len(skipped)} {plural} skipped, e.g. '{os.path.basename(path)}': {reason}{more}"


def check_classes(
    root: str,
    images: dict[str, list[str]],
    folders: dict[str, str],
    skipped: dict[str, list[tuple[str, str]]],
) -> None:
    """Refuse a dataset with fewer than 2 classes or a class without usable images.

    Args:
        root: The folder holding the class folders (named in messages).
        images: Usable image paths per class name.
        folders: The folder of each class.
        skipped: Skipped (path, reason) pairs per class.

    Raises:
        DatasetError: With a message that names the class and folder and says what to do.
    """
    names = list(images)
    if not names:
        raise DatasetError(
            f"found no class folders in {root}: put each class's images in its own "
            f"subfolder of that folder (for example {os.path.join(root, 'cats')} and "
            f"{os.path.join(root, 'dogs')})",
            path=root,
        )
    if len(names) < MIN_CLASSES:
        raise DatasetError(
            f"found 1 class folder ('{names[0]}'): a classifier needs at least 2; put each "
            f"class's images in its own subfolder of {root}",
            path=root,
        )
    empty = [name for name in names if not images[name]]
    if empty:
        name = empty[0]
        others = f" ({len(empty) - 1} more classes are empty too)" if len(empty) > 1 else ""
        raise EmptyClassError(
            f"class '{name}' has no usable images (folder {folders[name]}; "
            f"{_skipped_hint(skipped.get(name, []))}){others}: add JPEG, PNG, BMP, GIF, WebP "
            "or TIFF images to it, remove the folder, or leave the class out",
            classes=empty,
            path=folders[name],
        )


def left_out_warning(names: list[str]) -> str:
    """The warning that says which empty classes a scan left out."""
    quoted = ", ".join(f"'{name}'" for name in names)
    plural = "classes" if len(names) > 1 else "class"
    them = "them" if len(names) > 1 else "it"
    return (f"left out the empty {plural} {quoted} (no usable images); add images and "
            f"scan again to include {them}")


def check_extra_classes(split: str, folders: dict[str, str], class_names: list[str]) -> None:
    """Refuse a val/test class folder that has no counterpart in train.

    Raises:
        DatasetError: Naming the class and the split folder.
    """
    known = set(class_names)
    for name, folder in folders.items():
        if name not in known:
            raise DatasetError(
                f"class '{name}' appears in {split} but not in train: add a train folder "
                f"'{name}' with images of that class, or remove {folder}",
                path=folder,
            )


def dataset_warnings(counts: dict[str, dict[str, int]], num_skipped: int) -> list[str]:
    """Return warnings about small classes, imbalance, missing val images and skipped files.

    Args:
        counts: {class name: {"train": n, "val": n, "test": n}}.
        num_skipped: How many files were left out.
    """
    warnings: list[str] = []
    for name, per_split in counts.items():
        total = sum(per_split.values())
        if total < SMALL_CLASS_IMAGES:
            warnings.append(
                f"class '{name}' has only {total} usable image{'s' if total != 1 else ''}; "
                f"at least {SMALL_CLASS_IMAGES} per class (ideally 50 or more) give a "
                "more reliable classifier"
            )
    train = {name: per_split["train"] for name, per_split in counts.items()}
    if train:
        largest = max(train, key=lambda name: train[name])
        smallest = min(train, key=lambda name: train[name])
        if train[smallest] > 0 and train[largest] / train[smallest] > MAX_IMBALANCE_RATIO:
            warnings.append(
                f"classes are imbalanced: '{largest}' has {train[largest]} training images "
                f"but '{smallest}' only {train[smallest]} (more than 3:1); the model may "
                "favour the larger class - add images to the smaller one if you can"
            )
    for split in ("val", "test"):
        label = split_word(split)
        if any(per_split[split] for per_split in counts.values()):
            for name, per_split in counts.items():
                if per_split[split] == 0:
                    warnings.append(f"class '{name}' has no {label} images")
        elif split == "val":
            warnings.append(
                "the dataset has no validation images, so accuracy during training "
                "cannot be measured"
            )
    if num_skipped:
        plural = "file was" if num_skipped == 1 else "files were"
        warnings.append(f"{num_skipped:,} {plural} skipped (see the skipped list for reasons)")
    return warnings


def empty_split_message(split: str, folder: str | None, skipped: list[tuple[str, str]]) -> str:
    """Why a split ("val" or "test") has no usable image, and what to do about it.

    Args:
        split: The split's name.
        folder: The split's own folder, when it was read from one (None when carved).
        skipped: (path, reason) of that split's files that could not be used.
    """
    label = split_word(split)
    if folder is None and not skipped:
        return (f"The dataset has no {label} images. Add a '{split}' folder, or more images per "
                "class so some can be set aside.")
    where = f"The {label} folder {folder} has" if folder else f"The dataset's {label} split has"
    hint = f" ({_skipped_hint(skipped)})" if skipped else ""
    if folder:
        fix = (f"replace them with readable images, or remove that folder so {label} images are "
               "set aside from the training images")
    else:
        fix = "see the skipped files and add readable images"
    return f"{where} no readable images{hint}: {fix}."
