"""The user's corrections to a dataset, kept beside it and never applied to the files: pictures
left out (a copy, a leak, an odd picture) and pictures given another class (a label error).

The data doctor proposes them, the user decides; a correction is undone by removing it. They
travel with the project and are recorded in each run's dataset.json, so a run can be rescanned
exactly as it was trained (Run.dataset). Paths are kept relative to the dataset folder, so a
moved dataset keeps its corrections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from .dataset import DatasetScan, Sample, SkippedFile

LEFT_OUT = "left out by you"


@dataclass(frozen=True)
class DataCorrections:
    """excluded: {relative path: why}; relabelled: {relative path: class name}."""

    excluded: dict[str, str] = field(default_factory=dict)
    relabelled: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.excluded or self.relabelled)

    @staticmethod
    def key(root: str, path: str) -> str:
        """How a picture is named in corrections: its path inside the dataset folder."""
        return os.path.relpath(os.path.abspath(path), os.path.abspath(root))

    def excluding(self, root: str, path: str, why: str) -> "DataCorrections":
        return replace(self, excluded={**self.excluded, self.key(root, path): why})

    def relabelling(self, root: str, path: str, class_name: str) -> "DataCorrections":
        return replace(self, relabelled={**self.relabelled, self.key(root, path): class_name})

    def undoing(self, root: str, path: str) -> "DataCorrections":
        """Without any correction of `path` (the undo of excluding or relabelling it)."""
        key = self.key(root, path)
        return DataCorrections({k: v for k, v in self.excluded.items() if k != key},
                               {k: v for k, v in self.relabelled.items() if k != key})

    def to_dict(self) -> dict[str, Any]:
        return {"excluded": dict(sorted(self.excluded.items())),
                "relabelled": dict(sorted(self.relabelled.items()))}

    @classmethod
    def from_dict(cls, data: Any) -> "DataCorrections":
        """Read back `to_dict`; anything malformed is ignored entry by entry (never a crash)."""
        if not isinstance(data, dict):
            return cls()
        def strings(value: Any) -> dict[str, str]:
            if not isinstance(value, dict):
                return {}
            return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)
                    and k and not os.path.isabs(k)}
        return cls(strings(data.get("excluded")), strings(data.get("relabelled")))

    def applied(self, scan: DatasetScan) -> DatasetScan:
        """`scan` with these corrections: excluded pictures moved to its skipped files (reason
        "left out by you: ..."), relabelled ones given their new class (a class the scan does
        not have is ignored). The scan's `corrections` records what was applied."""
        if not self:
            return scan
        index = {name: k for k, name in enumerate(scan.class_names)}
        excluded = {os.path.join(scan.root, k): why for k, why in self.excluded.items()}
        relabel = {os.path.join(scan.root, k): index[name]
                   for k, name in self.relabelled.items() if name in index}
        present = {s.path for s in scan.samples}
        smaller = scan.without([p for p in excluded if p in present],
                               {p: f"{LEFT_OUT}: {why}" for p, why in excluded.items()})
        samples = [Sample(s.path, relabel.get(s.path, s.label), s.split) for s in smaller.samples]
        corrected = replace(smaller, samples=samples)
        corrected.warnings = corrected.recomputed_warnings()
        corrected.corrections = self.to_dict()
        return corrected


def skipped_by_user(skipped: list[SkippedFile]) -> list[SkippedFile]:
    """The skipped files the user left out (as opposed to unreadable ones)."""
    return [item for item in skipped if item.reason.startswith(LEFT_OUT)]
