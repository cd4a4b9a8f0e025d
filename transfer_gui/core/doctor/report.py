"""What the data doctor found, in plain words: copies and leaks, likely label errors, odd
pictures, and notes on class balance and split sizes. Qt-free; `to_dict` for --json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..data.splits import split_word

TRAIN = "train"


@dataclass(frozen=True)
class Picture:
    path: str
    class_name: str
    split: str


@dataclass(frozen=True)
class CopyGroup:
    """Pictures that are the same photo (same bytes, or re-encoded, resized, cropped...)."""

    pictures: tuple[Picture, ...]
    exact: bool  # every picture has the same bytes
    similarity: float  # the weakest match that links the group (1.0: same bytes)

    @property
    def label_conflict(self) -> bool:
        return len({p.class_name for p in self.pictures}) > 1

    @property
    def leak(self) -> bool:
        """The same photo in training and in validation or test: those scores are inflated."""
        splits = {p.split for p in self.pictures}
        return TRAIN in splits and len(splits) > 1

    @property
    def problem(self) -> str:
        if self.label_conflict:
            return "label conflict"
        return "leak" if self.leak else "copies"

    def describe(self) -> str:
        how = "the same file" if self.exact else "the same photo (re-saved, resized or cropped)"
        count = len(self.pictures)
        if self.label_conflict:
            classes = ", ".join(sorted({p.class_name for p in self.pictures}))
            return f"{count} pictures are {how} but are labelled differently ({classes})."
        if self.leak:
            splits = " and ".join(split_word(split) for split in
                                  sorted({p.split for p in self.pictures} - {TRAIN}))
            return (f"{count} pictures are {how}, in training and in {splits}: the {splits} "
                    f"score is inflated because the model has seen this photo.")
        return f"{count} pictures are {how} in class '{self.pictures[0].class_name}'."


@dataclass(frozen=True)
class LabelFinding:
    picture: Picture
    suggested: str
    given_probability: float
    suggested_probability: float
    quality: float

    def describe(self) -> str:
        return (f"labelled '{self.picture.class_name}' but looks like '{self.suggested}' "
                f"({self.suggested_probability:.0%} vs {self.given_probability:.0%})")


@dataclass(frozen=True)
class OddPicture:
    picture: Picture
    reason: str  # "unlike every class", "almost uniform", "very dark", "very bright"
    detail: str

    def describe(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass
class DoctorReport:
    root: str
    backbone: str
    class_names: list[str]
    counts: dict[str, dict[str, int]]
    copy_groups: list[CopyGroup] = field(default_factory=list)
    label_findings: list[LabelFinding] = field(default_factory=list)
    label_check_note: str = ""  # why labels were not checked, if they were not
    odd_pictures: list[OddPicture] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # class balance and split sizes
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    seconds: float = 0.0

    @property
    def leaks(self) -> list[CopyGroup]:
        return [g for g in self.copy_groups if g.leak]

    @property
    def conflicts(self) -> list[CopyGroup]:
        return [g for g in self.copy_groups if g.label_conflict]

    def summary(self) -> str:
        """One line a user reads first."""
        parts = [f"{len(self.copy_groups)} group(s) of copies"
                 f" ({len(self.leaks)} leak(s), {len(self.conflicts)} label conflict(s))",
                 f"{len(self.label_findings)} likely label error(s)",
                 f"{len(self.odd_pictures)} odd picture(s)"]
        return ", ".join(parts)

    def to_dict(self) -> dict:
        groups = [{"problem": g.problem, "exact": g.exact, "similarity": round(g.similarity, 4),
                   "description": g.describe(), "pictures": [asdict(p) for p in g.pictures]}
                  for g in self.copy_groups]
        labels = [{**asdict(f.picture), "suggested": f.suggested,
                   "given_probability": round(f.given_probability, 4),
                   "suggested_probability": round(f.suggested_probability, 4),
                   "quality": round(f.quality, 4)} for f in self.label_findings]
        odd = [{**asdict(o.picture), "reason": o.reason, "detail": o.detail}
               for o in self.odd_pictures]
        return {"root": self.root, "backbone": self.backbone, "class_names": self.class_names,
                "counts": self.counts, "summary": self.summary(), "copy_groups": groups,
                "label_findings": labels, "label_check_note": self.label_check_note,
                "odd_pictures": odd, "notes": self.notes,
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
                "seconds": round(self.seconds, 2)}
