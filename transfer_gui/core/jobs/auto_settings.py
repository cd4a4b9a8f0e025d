"""The Settings page's "Find good settings for me" job: `find_settings` (core/auto) on the Data
page's scan, streaming each trial's epochs (`TrialEpoch`) and rows (`TrialEnded`) to the window.

The scan is the one the Data page made, with the user's corrections, when its split settings
are the config's; otherwise the folder is scanned here once, with the config's.
"""

from __future__ import annotations

from typing import Collection, Optional

from transfer_gui.core.auto import AutoSettings, find_settings
from transfer_gui.core.data import DatasetScan
from transfer_gui.core.features import default_feature_cache
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import scan_for

from .events import TrialEnded, TrialEpoch, TrialStarted


def find_settings_job(state, scan: Optional[DatasetScan], config: TrainConfig,
                      budget_seconds: float, fixed: Collection[str] = (),
                      max_trials: Optional[int] = None) -> AutoSettings:
    """Searches settings for `config`'s mode and backbone within `budget_seconds`.

    Args:
        state: The worker's job state (`progress`, `emit`, `cancel`).
        scan: The Data page's scan (corrections applied), or None to scan the folder.
        fixed: Options the user set: kept, not searched.
        max_trials: At most this many trials (None: as many as the budget allows).
    """
    scan = scan_for(config, state.progress, state.cancel, reuse=scan)
    return find_settings(scan, config, budget_seconds, fixed=fixed,
                         on_trial=lambda record: state.emit(TrialEnded(record)),
                         on_start=lambda number, settings: state.emit(
                             TrialStarted(number, settings)),
                         on_epoch=lambda number, row: state.emit(TrialEpoch(number, dict(row))),
                         cancel=state.cancel, progress=state.progress,
                         feature_cache=default_feature_cache(), max_trials=max_trials)
