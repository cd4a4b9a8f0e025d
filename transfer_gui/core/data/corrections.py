"""The user's corrections to a dataset, kept beside it and never applied to the files: pictures
left out (a copy, a leak, an odd picture), pictures given another class (a label error), and
pictures the user looked at and kept as they are (a flagged label that is right).

The data doctor proposes them, the user decides; a correction is undone by removing it. They
travel with the project, so a decision is not asked for again after a reopen. The ones that
change the data (left out, relabelled) are recorded in each run's dataset.json, so a run can be
rescanned exactly as it was trained (Run.dataset); a kept picture changes nothing, so it is not.
Paths are kept relative to the dataset folder, so a moved dataset keeps its corrections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from .dataset import DatasetScan, Sample, SkippedFile

LEFT_OUT = "left out by you"


@dataclass(frozen=True)
class DataCorrections:
    """excluded: {relative path: why}; relabelled: {relative path: class name};
    kept: {relative path: why} (checked by the user and left as it is)."""

    excluded: dict[str, str] = field(default_factory=dict)
    relabelled: dict[str, str] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        """Any decision at all (a project with only kept pictures still has some to save)."""
        return bool(self.excluded or self.relabelled or self.kept)

    @property
    def changes_data(self) -> bool:
        """Whether these corrections change what trains (a kept picture does not)."""
        return bool(self.excluded or self.relabelled)

    @staticmethod
    def key(root: str, path: str) -> str:
        """How a picture is named in corrections: its path inside the dataset folder."""
        return os.path.relpath(os.path.abspath(path), os.path.abspath(root))

    def excluding(self, root: str, path: str, why: str) -> "DataCorrections":
        key = self.key(root, path)
        return replace(self, excluded={**self.excluded, key: why}, kept=_without(self.kept, key))

    def relabelling(self, root: str, path: str, class_name: str) -> "DataCorrections":
        key = self.key(root, path)
        return replace(self, relabelled={**self.relabelled, key: class_name},
                       kept=_without(self.kept, key))

    def keeping(self, root: str, path: str, why: str) -> "DataCorrections":
        """`path` checked and kept as it is: not left out, not relabelled."""
        key = self.key(root, path)
        return DataCorrections(_without(self.excluded, key), _without(self.relabelled, key),
                               {**self.kept, key: why})

    def undoing(self, root: str, path: str) -> "DataCorrections":
        """Without any correction of `path` (the undo of excluding, relabelling or keeping it)."""
        key = self.key(root, path)
        return DataCorrections(_without(self.excluded, key), _without(self.relabelled, key),
                               _without(self.kept, key))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; "kept" only when there are kept pictures (older files have none)."""
        out: dict[str, Any] = {"excluded": dict(sorted(self.excluded.items())),
                               "relabelled": dict(sorted(self.relabelled.items()))}
        if self.kept:
            out["kept"] = dict(sorted(self.kept.items()))
        return out

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
        return cls(strings(data.get("excluded")), strings(data.get("relabelled")),
                   strings(data.get("kept")))

    def applied(self, scan: DatasetScan) -> DatasetScan:
        """`scan` with these corrections: excluded pictures moved to its skipped files (reason
        "left out by you: ..."), relabelled ones given their new class (a class the scan does
        not have is ignored); kept pictures stay as they are. The scan's `corrections` records
        what was applied (left out and relabelled pictures only)."""
        if not self.changes_data:
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
        corrected.corrections = replace(self, kept={}).to_dict()
        return corrected


def _without(entries: dict[str, str], key: str) -> dict[str, str]:
    return {k: v for k, v in entries.items() if k != key}


def skipped_by_user(skipped: list[SkippedFile]) -> list[SkippedFile]:
    """The skipped files the user left out (as opposed to unreadable ones)."""
    return [item for item in skipped if item.reason.startswith(LEFT_OUT)]
