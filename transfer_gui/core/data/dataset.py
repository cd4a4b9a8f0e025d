"""The result of a dataset scan: labelled samples per split, skipped files and warnings."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .checks import dataset_warnings, empty_split_message
from .formats import IMAGE_EXTENSIONS
from .splits import SPLIT_NAMES


@dataclass(frozen=True)
class Sample:
    """One usable image: absolute path, class index, and split ("train", "val" or "test")."""

    path: str
    label: int
    split: str


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of the dataset and the reason why."""

    path: str
    reason: str


@dataclass
class DatasetScan:
    """The result of `scan_dataset`.

    Attributes:
        root: The dataset folder (absolute).
        layout: "classes" (ROOT/<class>/...) or "splits" (ROOT/{train,val,test}/<class>/...).
        class_names: Class names, naturally sorted; a sample's label indexes this list.
        samples: Every usable image, sorted by path.
        skipped: Files left out, with reasons.
        warnings: Human-readable problems that do not stop training.
        split_seed: Seed used to carve splits.
        split_fractions: Requested (train, val, test) fractions; see `splits_made` for
            which were applied (a val carved from a train folder takes `val` of its images).
        splits_made: Splits carved from other images rather than read from their own folder.
        left_out_classes: Class folders without a usable image that were left out
            (`leave_out_empty_classes`).
        layout_warnings: The warnings about folders (not about counts); `warnings` is these
            plus the count warnings, recomputed whenever samples are dropped (`without`).
        split_folders: {split: folder} for the splits read from their own folder.
        corrections: The user's corrections applied to this scan (DataCorrections.to_dict(),
            see corrections.py); empty when none.
    """

    root: str
    layout: str
    class_names: list[str]
    samples: list[Sample]
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    split_seed: int = 0
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    splits_made: list[str] = field(default_factory=list)
    left_out_classes: list[str] = field(default_factory=list)
    layout_warnings: list[str] = field(default_factory=list)
    split_folders: dict[str, str] = field(default_factory=dict)
    corrections: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> list[Sample]:
        """Return the samples of one split ("train", "val" or "test"), sorted by path."""
        if name not in SPLIT_NAMES:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLIT_NAMES}")
        return [sample for sample in self.samples if sample.split == name]

    def unreadable_in(self, name: str) -> list[SkippedFile]:
        """The image files (by type) left out of the scan that may belong to split `name`: in
        its own folder when it has one, else outside the other splits' own folders (a file that
        could not be read was never given a split)."""
        def inside(path: str, folder: str) -> bool:
            return path.startswith(folder + os.sep)

        own = self.split_folders.get(name)
        folders = [folder for split, folder in self.split_folders.items() if split != name]
        return [item for item in self.skipped
                if os.path.splitext(item.path)[1].lower() in IMAGE_EXTENSIONS
                and (inside(item.path, own) if own is not None
                     else not any(inside(item.path, folder) for folder in folders))]

    def counts(self) -> dict[str, dict[str, int]]:
        """Return {class name: {"train": n, "val": n, "test": n}}."""
        table = {name: dict.fromkeys(SPLIT_NAMES, 0) for name in self.class_names}
        for sample in self.samples:
            table[self.class_names[sample.label]][sample.split] += 1
        return table

    def without(
        self, paths: Iterable[str], reason_by_path: dict[str, str] | None = None
    ) -> DatasetScan:
        """Return a copy with the given samples moved to `skipped` (e.g. failed to decode).

        Args:
            paths: Sample paths to remove.
            reason_by_path: The skip reason of each path; "could not be decoded" if absent.
        """
        removed = set(paths)
        reasons = reason_by_path or {}
        kept = [sample for sample in self.samples if sample.path not in removed]
        newly_skipped = [
            SkippedFile(sample.path, reasons.get(sample.path, "could not be decoded"))
            for sample in self.samples
            if sample.path in removed
        ]
        smaller = replace(
            self,
            class_names=list(self.class_names),
            samples=kept,
            skipped=sorted([*self.skipped, *newly_skipped], key=lambda item: item.path),
            splits_made=list(self.splits_made),
            left_out_classes=list(self.left_out_classes),
            layout_warnings=list(self.layout_warnings),
            split_folders=dict(self.split_folders),
            corrections=dict(self.corrections),
        )
        smaller.warnings = smaller.recomputed_warnings()
        return smaller

    def recomputed_warnings(self) -> list[str]:
        """`layout_warnings` plus the warnings about this scan's counts and skipped files."""
        return [*self.layout_warnings, *dataset_warnings(self.counts(), len(self.skipped))]

    def empty_split_message(self, split: str, failed: Iterable[SkippedFile] = ()) -> str:
        """Why `split` has no usable image (its folder's skipped files, or `failed`), with a fix."""
        folder = self.split_folders.get(split)
        skipped = [(item.path, item.reason) for item in failed]
        if folder is not None and not skipped:
            skipped = [(item.path, item.reason) for item in self.skipped
                       if item.path.startswith(folder + os.sep)]
        return empty_split_message(split, folder, skipped)

    def summary(self) -> dict[str, Any]:
        """Return a JSON-serialisable description (no per-file lists)."""
        return {
            "root": self.root,
            "layout": self.layout,
            "classes": list(self.class_names),
            "counts": self.counts(),
            "num_samples": len(self.samples),
            "num_skipped": len(self.skipped),
            "warnings": list(self.warnings),
            "split_seed": self.split_seed,
            "split_fractions": list(self.split_fractions),
            "splits_made": list(self.splits_made),
            "left_out_classes": list(self.left_out_classes),
            **({"corrections": self.corrections} if self.corrections else {}),
        }
