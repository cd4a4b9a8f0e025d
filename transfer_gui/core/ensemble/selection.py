"""Which backbones' probes to average: greedy forward selection on out-of-fold log-loss.

Caruana et al., "Ensemble selection from libraries of models" (ICML 2004), without replacement:
start from the single model with the lowest out-of-fold log-loss, then repeatedly add the
candidate whose equal-weight average of probabilities lowers the log-loss most, while it lowers
it at all and the ensemble has fewer than `max_members` members. Each member counts once (no
replacement, so no weights to store: the ensemble is a plain average of 2-3 backbones).

Out-of-fold probabilities come from k-fold cross-validation on the training images (every row
scored by a probe that did not see it), so the choice never looks at the validation split; the
validation split then decides whether the ensemble is kept (`decide`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np

PROBABILITY_FLOOR = 1e-15  # log-loss of a probability of 0 is capped at -log(1e-15) = 34.5


def log_loss(labels: Sequence[int], probabilities: np.ndarray) -> float:
    """Mean negative log-probability of the true class (natural log)."""
    labels = np.asarray(labels, int)
    p = np.asarray(probabilities, np.float64)[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(p, PROBABILITY_FLOOR, 1.0)).mean())


def accuracy(labels: Sequence[int], probabilities: np.ndarray) -> float:
    labels = np.asarray(labels, int)
    return float((np.asarray(probabilities).argmax(1) == labels).mean()) if len(labels) else 0.0


def average(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """The ensemble's probabilities: the members' equal-weight mean."""
    return np.mean(np.stack([np.asarray(p, np.float64) for p in probabilities]), axis=0)


@dataclass
class SelectionStep:
    """The ensemble after one greedy step and its out-of-fold scores."""

    members: list[str]
    log_loss: float
    accuracy: float


@dataclass
class Selection:
    """The greedy path: step 0 is the best single model; `members` the last step's."""

    steps: list[SelectionStep] = field(default_factory=list)
    candidates: dict[str, float] = field(default_factory=dict)  # name -> its own OOF log-loss

    @property
    def members(self) -> list[str]:
        return self.steps[-1].members

    @property
    def best_single(self) -> str:
        return self.steps[0].members[0]

    def to_dict(self) -> dict:
        return {"members": self.members, "best_single": self.best_single,
                **asdict(self)}


def greedy_selection(out_of_fold: Mapping[str, np.ndarray], labels: Sequence[int],
                     max_members: int = 3, min_members: int = 1) -> Selection:
    """Greedy forward selection without replacement (module docstring).

    Args:
        out_of_fold: candidate name -> (rows, classes) out-of-fold probabilities, all for the
            same rows in the same order. Ties go to the candidate named first.
        labels: The rows' true classes.
        max_members: The most members the ensemble may have (1 returns the best single).
        min_members: Add the best remaining candidate until there are this many members even
            when it does not lower the log-loss (to build an ensemble for comparison).
    """
    if not out_of_fold:
        raise ValueError("greedy_selection needs at least one candidate")
    labels = np.asarray(labels, int)
    own = {name: log_loss(labels, p) for name, p in out_of_fold.items()}
    first = min(own, key=lambda name: own[name])  # min keeps the first of equal ones
    chosen = [first]
    selection = Selection([SelectionStep([first], own[first],
                                         accuracy(labels, out_of_fold[first]))], own)
    while len(chosen) < max_members:
        trials = {name: log_loss(labels, average([out_of_fold[m] for m in chosen + [name]]))
                  for name in out_of_fold if name not in chosen}
        if not trials:
            break
        best = min(trials, key=lambda name: trials[name])
        if not trials[best] < selection.steps[-1].log_loss and len(chosen) >= min_members:
            break
        chosen = chosen + [best]
        selection.steps.append(SelectionStep(
            chosen, trials[best], accuracy(labels, average([out_of_fold[m] for m in chosen]))))
    return selection


@dataclass
class Decision:
    """Whether the ensemble is kept, with the figures it was decided on."""

    kept: bool
    reason: str
    single_log_loss: float
    ensemble_log_loss: float
    single_val_accuracy: float
    ensemble_val_accuracy: float


def decide(selection: Selection, single_val_accuracy: float,
           ensemble_val_accuracy: float) -> Decision:
    """Keep the ensemble only when it has 2+ members and neither its out-of-fold log-loss nor
    its validation accuracy is worse than the best single model's (the same split)."""
    single, ensemble = selection.steps[0], selection.steps[-1]
    figures = dict(single_log_loss=single.log_loss, ensemble_log_loss=ensemble.log_loss,
                   single_val_accuracy=single_val_accuracy,
                   ensemble_val_accuracy=ensemble_val_accuracy)
    if len(ensemble.members) < 2:
        return Decision(False, f"no candidate lowered the out-of-fold log-loss of "
                               f"{single.members[0]} ({single.log_loss:.4f}) when averaged in",
                        **figures)
    if ensemble.log_loss > single.log_loss:  # greedy never does this; a guard for callers
        return Decision(False, "the ensemble's out-of-fold log-loss is worse", **figures)
    if ensemble_val_accuracy < single_val_accuracy:
        return Decision(False, f"the ensemble's validation accuracy "
                               f"({ensemble_val_accuracy:.1%}) is below {single.members[0]}'s "
                               f"({single_val_accuracy:.1%})", **figures)
    return Decision(True, f"out-of-fold log-loss {ensemble.log_loss:.4f} vs "
                          f"{single.log_loss:.4f} and validation accuracy "
                          f"{ensemble_val_accuracy:.1%} vs {single_val_accuracy:.1%} "
                          f"({single.members[0]} alone)", **figures)
