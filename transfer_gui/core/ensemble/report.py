"""What building an ensemble found: each candidate's scores, the greedy path and the decision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from .selection import Decision, Selection


@dataclass
class CandidateScore:
    """One backbone's linear probe. Out-of-fold (`oof_*`, `fold_accuracies`): k-fold CV on the
    training images; `val_*`: the probe fitted on all training images, on the validation split
    (cached features: the backbone's own preprocessing)."""

    backbone: str
    display_name: str
    oof_log_loss: float
    oof_accuracy: float
    fold_accuracies: list[float]
    val_accuracy: float
    val_log_loss: float
    feature_seconds: float
    computed_images: int

    def cv(self) -> tuple[float, float]:
        return mean_sd(self.fold_accuracies)


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and standard deviation (ddof=1; 0 for one value)."""
    a = np.asarray(values, float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


@dataclass
class EnsembleReport:
    """Everything `build_ensemble` measured and decided. `kept` is "ensemble" or the backbone
    of the single model written instead; `saved_val_accuracy` is what the written model.pt
    scores on the validation split (for the ensemble: through its own input, model.py)."""

    run_dir: str
    data_dir: str
    class_names: list[str]
    num_train: int
    num_val: int
    folds: int
    seed: int
    max_members: int
    candidates: list[CandidateScore] = field(default_factory=list)
    selection: Optional[Selection] = None
    decision: Optional[Decision] = None
    ensemble_fold_accuracies: list[float] = field(default_factory=list)
    ensemble_val_log_loss: float = float("nan")
    kept: str = ""
    forced: bool = False
    saved_val_accuracy: float = float("nan")
    unavailable: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def candidate(self, name: str) -> CandidateScore:
        return next(c for c in self.candidates if c.backbone == name)

    def summary(self) -> str:
        """The outcome in plain words."""
        d, s = self.decision, self.selection
        single = self.candidate(s.best_single)
        ens_cv, ens_sd = mean_sd(self.ensemble_fold_accuracies)
        one_cv, one_sd = single.cv()
        lines = [f"Best single: {single.backbone}: validation {d.single_val_accuracy:.1%}, "
                 f"CV {one_cv:.1%} \u00b1 {one_sd:.1%}, out-of-fold log-loss "
                 f"{d.single_log_loss:.4f}."]
        if len(s.members) > 1:
            lines.append(f"Ensemble of {' + '.join(s.members)}: validation "
                         f"{d.ensemble_val_accuracy:.1%}, CV {ens_cv:.1%} \u00b1 {ens_sd:.1%}, "
                         f"out-of-fold log-loss {d.ensemble_log_loss:.4f}.")
        if self.kept == "ensemble":
            why = ("kept because --keep-ensemble asked for it, although " + d.reason
                   if self.forced and not d.kept else "kept: " + d.reason)
            lines.append(f"The ensemble is {why}.")
        else:
            lines.append(f"The ensemble is not kept ({d.reason}); the run holds {self.kept} "
                         f"alone.")
        lines.append(f"The saved model scores {self.saved_val_accuracy:.1%} on the "
                     f"{self.num_val} validation images.")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["selection"] = self.selection.to_dict() if self.selection else None
        out["summary"] = self.summary() if self.decision else ""
        return out
