"""Automatic settings within a time budget: `find_settings` (search.py) and its table rows
(`TrialRecord`, trial.py). Qt-free; a GUI streams the trials through `on_trial` / `on_epoch`."""

from .search import BUDGET_SPENT, USER_STOP, AutoSettings, find_settings
from .space import SEARCHED, describe
from .trial import COMPLETE, FAILED, OUT_OF_TIME, PRUNED, STOPPED, TrialRecord

__all__ = ["find_settings", "AutoSettings", "TrialRecord", "SEARCHED", "describe",
           "BUDGET_SPENT", "USER_STOP", "COMPLETE", "PRUNED", "OUT_OF_TIME", "STOPPED", "FAILED"]
