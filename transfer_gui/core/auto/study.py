"""The Optuna study behind a settings search: created, or resumed from SQLite storage, and read
back as the search table.

TPE sampling (seeded: the same search on the CPU suggests the same settings) and median pruning
on each epoch's validation accuracy. One study per search problem (dataset, split, mode,
backbone, seed and the options the user fixed), so one storage file can hold several.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Collection, Optional

from ..errors import UserError
from ..training.config import TrainConfig
from .trial import COMPLETE, OUT_OF_TIME, PRUNED, TrialRecord

# TPE suggests at random (seeded) for this many trials, the mode's defaults first, then models
# the good and bad ones. Few: a budget of minutes holds a handful of trials.
STARTUP_TRIALS = 4
INTERRUPTED = "interrupted"  # a trial whose process ended while it ran (a resumed study's)
RECORD = "record"  # the user attribute holding a trial's TrialRecord
WORKER = "worker"  # the user attribute naming the process that runs a trial: {"host", "pid"}


def study_name(config: TrainConfig, fixed: dict[str, Any]) -> str:
    """What a search is about, hashed: runs with another dataset, split, mode, backbone, seed
    or fixed options start their own study in the same storage."""
    key = json.dumps([os.path.abspath(config.data_dir), config.mode, config.backbone,
                      config.seed, config.split_seed, config.val_fraction, config.test_fraction,
                      sorted(fixed.items())], default=str)
    return f"{config.mode}-{config.backbone}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def storage_url(storage: Optional[str | os.PathLike]) -> Optional[str]:
    """An SQLite file path as a database URL (an URL stays as it is); None: in memory."""
    if storage is None:
        return None
    text = str(storage)
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def open_study(config: TrainConfig, fixed: dict[str, Any],
               storage: Optional[str | os.PathLike] = None, pruner=None):
    """The study of this search: new, or the one `storage` holds (then resumed: trials a killed
    search left running are marked failed, and sampling goes on where it stopped)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = _create_study(config, fixed, storage, pruner)
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        raise UserError(f"The search's storage {storage} cannot be opened ({exc}). Give an "
                        f"SQLite file in a folder you can write.", path=str(storage)) from None
    except Exception as exc:  # SQLAlchemy's errors: a file that is not an SQLite database
        if type(exc).__module__.startswith("sqlalchemy"):
            raise UserError(f"The search's storage {storage} is not a search database "
                            f"({type(exc).__name__}).", path=str(storage)) from None
        raise
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if not _worker_alive(trial.user_attrs.get(WORKER)):  # a killed search left it running
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    # Seeded by the trials done, so a resumed search does not repeat its first suggestions; with
    # shared storage also by the process, so workers searching together suggest different ones.
    seed = config.seed + len(study.trials) + (os.getpid() if storage is not None else 0)
    study.sampler = optuna.samplers.TPESampler(seed=seed % 2**32,
                                               n_startup_trials=STARTUP_TRIALS)
    return study


def _create_study(config: TrainConfig, fixed: dict[str, Any],
                  storage: Optional[str | os.PathLike], pruner, attempts: int = 5):
    """optuna.create_study, tried again a few times when the database is busy: workers that
    start together race to create its tables and the study, and the loser sees an error."""
    import optuna

    for attempt in range(attempts):
        try:
            return optuna.create_study(
                study_name=study_name(config, fixed), storage=storage_url(storage),
                direction="maximize", load_if_exists=True,
                pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=1,
                                                             n_warmup_steps=0))
        except Exception as exc:
            busy = type(exc).__name__ in ("OperationalError", "IntegrityError",
                                          "DuplicatedStudyError")
            if not busy or attempt == attempts - 1 or storage is None:
                raise
            time.sleep(0.2 * (attempt + 1))


def claim(trial) -> None:
    """Name this process as the one running `trial` (other workers leave it alone)."""
    trial.set_user_attr(WORKER, {"host": platform.node(), "pid": os.getpid()})


def _worker_alive(worker: Any) -> bool:
    """Whether the process a running trial names still runs: on this computer it is asked; a
    trial of another computer is assumed alive (several machines can share one database)."""
    from ..run_writer import process_alive

    if not isinstance(worker, dict) or not isinstance(worker.get("pid"), int):
        return False  # written before workers were named: a search that has ended
    if worker.get("host") != platform.node():
        return True
    return process_alive(worker["pid"])


def tell(study, trial, record: TrialRecord) -> None:
    """Finish `trial` in the study as `record` says, keeping the record with it."""
    from optuna.trial import TrialState

    trial.set_user_attr(RECORD, record.to_dict())
    if record.state == COMPLETE:
        study.tell(trial, record.val_acc)
    elif record.state in (PRUNED, OUT_OF_TIME):
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, state=TrialState.FAIL)


def records(study, resumed_below: int = 0) -> list[TrialRecord]:
    """Every finished trial of the study as a table row, by number; those numbered below
    `resumed_below` ran in an earlier search."""
    from optuna.trial import TrialState

    rows = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state in (TrialState.RUNNING, TrialState.WAITING):
            continue
        saved = trial.user_attrs.get(RECORD)
        if isinstance(saved, dict):
            known = set(TrialRecord.__dataclass_fields__)
            record = TrialRecord(**{k: v for k, v in saved.items() if k in known})
        else:  # its process ended while it ran
            record = TrialRecord(trial.number, dict(trial.params), INTERRUPTED)
        record.resumed = trial.number < resumed_below
        rows.append(record)
    return rows


def chosen(rows: Collection[TrialRecord]) -> Optional[TrialRecord]:
    """The best complete trial: highest validation accuracy, then lowest validation loss, then
    the quickest."""
    done = [r for r in rows if r.state == COMPLETE and r.val_acc is not None]
    return max(done, key=lambda r: (r.val_acc, -r.val_loss, -r.seconds)) if done else None
