"""Find good settings for a dataset within a time budget ("Find good settings for me").

- Feature extraction: the linear probe's L2 strength by cross-validation (probe.py; seconds).
- Fine-tuning and from scratch: an Optuna study (study.py) over the learning rate (log scale),
  the backbone's learning-rate factor, the stages unfrozen, the augmentation and the epochs
  (space.py), the mode's defaults tried first. Each trial is a real short training run on the
  search's split (trial.py), pruned after an epoch whose validation accuracy is below the
  median trial's at that epoch.

The budget is the search's alone: after the first trial, no trial starts unless the shortest
one still fits by the times measured (budget.py), and a trial running when the budget runs out
is stopped within one batch. Training
the chosen settings afterwards is a separate run; `AutoSettings.final_seconds` estimates it.
Options in `fixed` (the ones the user set) keep their values and are not searched.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Collection, Optional

from ..data import DatasetScan
from ..errors import ConfigError
from ..features import FeatureCache, default_feature_cache
from ..jobs import CancelToken, Progress, ProgressCallback, no_progress
from ..training.config import FEATURE_EXTRACTION, TrainConfig
from ..training.engine import scan_matches
from .budget import TrialTimes
from .space import EPOCH_BOUNDS, SEARCHED, Space
from .study import chosen, claim, open_study, records, study_name, tell
from .trial import FAILED, DeadlineToken, TrialRecord, run_trial

BUDGET_SPENT = "the time budget was spent"
USER_STOP = "stopped by the user"


@dataclass
class AutoSettings:
    """What a search found.

    Attributes:
        config: The settings to train with: the chosen values on top of the given config.
        chosen: The searched options' chosen values ({}: nothing better than the given config
            was found, e.g. no trial finished within the budget).
        fixed: Options the user set, with their values: kept, not searched.
        searched: The options searched.
        trials: The search table, every trial of the study (a resumed one's earlier ones too).
        best_trial: The number of the trial whose settings were chosen.
        l2_accuracy: Feature extraction: mean fold accuracy per L2 strength tried.
        epochs_range: The epochs a trial could have (the top lowered to fit the budget).
        final_seconds: About how long training the chosen settings takes (the chosen trial's
            time), None when unknown.
    """

    mode: str
    config: TrainConfig
    chosen: dict[str, Any]
    fixed: dict[str, Any]
    searched: tuple[str, ...]
    budget_seconds: float
    seconds: float = 0.0
    stop_reason: str = ""
    trials: list[TrialRecord] = field(default_factory=list)
    best_trial: Optional[int] = None
    l2_accuracy: dict[float, float] = field(default_factory=dict)
    epochs_range: Optional[tuple[int, int]] = None
    final_seconds: Optional[float] = None
    storage: Optional[str] = None
    study: Optional[str] = None

    @property
    def cancelled(self) -> bool:
        return self.stop_reason == USER_STOP

    def to_dict(self) -> dict[str, Any]:
        """The record kept in the run's config.json ("auto_settings")."""
        out = asdict(self)
        del out["config"]
        out["l2_accuracy"] = [{"l2": k, "cv_accuracy": v} for k, v in self.l2_accuracy.items()]
        out["budget_seconds"] = round(self.budget_seconds, 1)
        out["seconds"] = round(self.seconds, 1)
        out["budget_includes"] = "the search only (training the chosen settings comes after)"
        return out


def find_settings(scan: DatasetScan, config: TrainConfig, budget_seconds: float, *,
                  storage: Optional[str] = None, fixed: Collection[str] = (),
                  on_trial: Optional[Callable[[TrialRecord], None]] = None,
                  on_start: Optional[Callable[[int, dict], None]] = None,
                  on_epoch: Optional[Callable[[int, dict], None]] = None,
                  cancel: Optional[CancelToken] = None, progress: ProgressCallback = no_progress,
                  feature_cache: Optional[FeatureCache] = None, allow_download: bool = True,
                  max_trials: Optional[int] = None, pruner=None,
                  clock: Callable[[], float] = time.perf_counter) -> AutoSettings:
    """Search settings for `config`'s mode and backbone on `scan` (a scan of `config`'s
    dataset with its split settings) within `budget_seconds` (see the module docstring).

    Args:
        storage: An SQLite file (or database URL) that keeps the study: searching again with
            it resumes the search, its trials counted in the table.
        fixed: Names of options the user set: kept as `config` has them, not searched.
        on_trial: Called with each trial's table row when it ends (and first with a resumed
            study's earlier rows).
        on_start: Called with (trial number, its settings) as each trial starts.
        on_epoch: Called with (trial number, epoch row) after every epoch of a trial.
        max_trials: Run at most this many trials (None: as many as the budget allows).
        pruner: The Optuna pruner (default: median pruning from the second trial on).
    Raises UserError subclasses for bad input, as training does.
    """
    config = config.validated()
    if not budget_seconds > 0:
        raise ConfigError(f"The search's budget must be above 0 seconds (got {budget_seconds}).")
    if not scan_matches(scan, config):
        raise ValueError("the scan was not made with the config's dataset and split settings")
    cancel = cancel or CancelToken()
    started = clock()
    cache = feature_cache or (FeatureCache(config.feature_cache_dir) if config.feature_cache_dir
                              else default_feature_cache())
    kept = {name: getattr(config, name) for name in fixed}
    if config.mode == FEATURE_EXTRACTION:
        return _probe_search(scan, config, budget_seconds, kept, cache, allow_download,
                             progress, cancel, started, clock)
    times = TrialTimes.planned(config, scan, cancel)
    stages = (_stages(config) if "unfreeze_stages" in SEARCHED[config.mode]
              and "unfreeze_stages" not in kept else 1)
    space = Space.of(config.mode, kept, stages,
                     times.epoch_range(EPOCH_BOUNDS[config.mode], budget_seconds))
    out = AutoSettings(config.mode, config, {}, kept, space.names, budget_seconds,
                       epochs_range=space.epochs if "epochs" in space.names else None,
                       storage=None if storage is None else str(storage),
                       study=study_name(config, kept))
    study = open_study(config, kept, storage, pruner)
    earlier = len(study.trials)
    for row in records(study, earlier) if on_trial is not None else ():
        on_trial(row)
    if not space.names:
        out.stop_reason = "every option the search varies was given"
    elif earlier == 0:
        study.enqueue_trial(space.params_of(config))  # the mode's defaults first
    deadline, ran, probe_l2 = started + budget_seconds, 0, config.head_l2
    shortest = space.epochs[0] if "epochs" in space.names else config.epochs
    while space.names:
        if cancel.cancelled:
            out.stop_reason = USER_STOP
            break
        if max_trials is not None and ran >= max_trials:
            out.stop_reason = f"{ran} trial{'s' if ran != 1 else ''} run, as asked"
            break
        # Not even the shortest trial fits what is left, by the trials timed so far. The first
        # trial always starts: the estimate before it (4 images timed at one moment) was 2.3x
        # a real epoch on a loaded machine; the deadline stops it if it runs long.
        if clock() >= deadline or (times.measured
                                   and times.trial(shortest) > deadline - clock()):
            out.stop_reason = BUDGET_SPENT
            break
        trial = study.ask()
        claim(trial)
        settings = space.suggest(trial)
        # Every trial starts from the same probe: its strength, once chosen by the first
        # trial's cross-validation, is reused (the same value, seconds sooner).
        trial_config = config.with_changes(**settings, head_l2=probe_l2)
        if on_start is not None:
            on_start(trial.number, dict(settings))
        report = _EpochProgress(progress, on_epoch, trial.number, trial_config.epochs, started,
                                budget_seconds, clock)
        record = run_trial(trial, trial_config, scan, settings, cache=cache,
                           token=DeadlineToken(cancel, deadline, clock),
                           allow_download=allow_download, on_epoch=report)
        tell(study, trial, record)
        ran += 1
        probe_l2 = probe_l2 if probe_l2 is not None else record.probe_l2
        times.add(record.seconds, record.epoch_seconds())
        if on_trial is not None:
            on_trial(record)
        if record.state == FAILED and len(record.curve) <= 1:  # nothing can train: say why
            out.stop_reason = record.note
            break
    out.trials = records(study, earlier)
    best = chosen(out.trials)
    if best is not None:
        out.best_trial, out.chosen = best.number, dict(best.settings)
        out.config = config.with_changes(**best.settings)
        out.final_seconds = best.seconds
    out.seconds = clock() - started
    return out


def _stages(config: TrainConfig) -> int:
    """How many stages the backbone has (the top of unfreeze_stages' search)."""
    from ..models import get_backbone

    spec = get_backbone(config.backbone)
    return len(spec.stages(spec.build_network()))


class _EpochProgress:
    """Passes each trial epoch to `on_epoch` and reports the search's progress (time spent of
    the budget) with the epoch's figures."""

    def __init__(self, progress: ProgressCallback, on_epoch, number: int, epochs: int,
                 started: float, budget: float, clock: Callable[[], float]) -> None:
        self.progress, self.on_epoch, self.number, self.epochs = progress, on_epoch, number, epochs
        self.started, self.budget, self.clock = started, budget, clock

    def __call__(self, number: int, row: dict) -> None:
        if self.on_epoch is not None:
            self.on_epoch(number, row)
        spent = self.clock() - self.started
        self.progress(Progress(min(spent / max(self.budget, 1e-9), 1.0),
                               f"Trial {number + 1}: epoch {row['epoch']}/{self.epochs}, val "
                               f"accuracy {row['val_acc']:.1%}",
                               max(self.budget - spent, 0.0), "search"))


def _probe_search(scan: DatasetScan, config: TrainConfig, budget_seconds: float,
                  kept: dict[str, Any], cache: FeatureCache, allow_download: bool,
                  progress: ProgressCallback, cancel: CancelToken, started: float,
                  clock: Callable[[], float]) -> AutoSettings:
    """Feature extraction: the probe's L2 strength by cross-validation (unless given)."""
    from .probe import probe_strength

    out = AutoSettings(config.mode, config, {}, kept, (), budget_seconds)
    if config.head_l2 is not None:
        out.stop_reason = "the regularisation was given"
    else:
        out.searched = ("head_l2",)
        l2, out.l2_accuracy = probe_strength(scan, config, cache=cache,
                                             allow_download=allow_download, progress=progress,
                                             cancel=cancel)
        out.chosen = {"head_l2": l2}
        out.config = config.with_changes(head_l2=l2)
        out.stop_reason = "chosen by cross-validation on the training images"
    out.seconds = clock() - started
    return out


__all__ = ["AutoSettings", "find_settings", "SEARCHED", "BUDGET_SPENT", "USER_STOP"]
