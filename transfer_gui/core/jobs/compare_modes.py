"""The Compare window's jobs: estimate how long a grid of (backbone, mode) runs trains, then train
them one after the other on the same data and split (`compare_grid_job`; `compare_modes_job` is
its one-backbone case: the three modes on one backbone).

Both take the Data page's scan with the user's corrections (AppState.dataset), as the Train page
does, so left-out pictures stay out, relabelled ones count as their new class, and each run's
dataset.json records the corrections."""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from transfer_gui.core.errors import Cancelled, ConfigError
from transfer_gui.core.jobs import Progress
from transfer_gui.core.jobs.events import RunTrained
from transfer_gui.core.training.config import MODE_NAMES, MODES, TrainConfig
from transfer_gui.core.training.time_estimate import SplitSizes, planned_seconds

if TYPE_CHECKING:
    from transfer_gui.core.data import DatasetScan


def _unique_dir(root: Path, name: str) -> Path:
    path, n = root / name, 2
    while path.exists():
        path, n = root / f"{name}-{n}", n + 1
    return path


Cell = tuple[str, str]  # (backbone, mode): one run of a comparison grid


def grid_configs(data_dir: str, cells: Sequence[Cell],
                 overrides: Optional[dict[str, Any]] = None,
                 mode_overrides: Optional[dict[str, dict[str, Any]]] = None) -> list[TrainConfig]:
    """One config per (backbone, mode) cell: the mode's defaults, then `overrides` (every
    cell), then that mode's own changes."""
    return [TrainConfig.for_mode(str(data_dir), mode, backbone=backbone,
                                 **{**(overrides or {}), **(mode_overrides or {}).get(mode, {})})
            for backbone, mode in cells]


def mode_configs(data_dir: str, backbone: str, overrides: Optional[dict[str, Any]] = None,
                 mode_overrides: Optional[dict[str, dict[str, Any]]] = None) -> list[TrainConfig]:
    """One config per mode on one backbone (the grid's one-backbone case)."""
    return grid_configs(data_dir, [(backbone, mode) for mode in MODES], overrides,
                        mode_overrides)


def estimate_job(state, configs: list[TrainConfig], dataset=None) -> list[float]:
    """About how many seconds each config trains on this computer
    (per-image costs measured on a few of the dataset's images, once per backbone; the dataset
    is scanned when not given)."""
    from transfer_gui.core.training.image_costs import measure_image_costs

    first = configs[0]
    if dataset is None:
        dataset = _scan(state, first)
    sizes = SplitSizes(*(len(dataset.split(name)) for name in ("train", "val", "test")))
    files = [s.path for s in dataset.samples]
    costs = {}
    for config in configs:
        if config.backbone not in costs:
            costs[config.backbone] = measure_image_costs(config.backbone, files, first.device,
                                                         cancel=state.cancel)
    return [planned_seconds(config, sizes, costs[config.backbone]) for config in configs]


def _scan(state, config: TrainConfig) -> "DatasetScan":
    from transfer_gui.core.training.engine import scan_for

    return scan_for(config, cancel=state.cancel)


def compare_modes_job(state, data_dir: str, backbone: str, runs_root: str | Path,
                      overrides: Optional[dict[str, Any]] = None,
                      mode_overrides: Optional[dict[str, dict[str, Any]]] = None,
                      dataset: Optional["DatasetScan"] = None) -> list[Path]:
    """The three modes on one backbone: `compare_grid_job` with one row."""
    return compare_grid_job(state, data_dir, [(backbone, mode) for mode in MODES], runs_root,
                            overrides, mode_overrides, dataset)


def compare_grid_job(state, data_dir: str, cells: Sequence[Cell], runs_root: str | Path,
                     overrides: Optional[dict[str, Any]] = None,
                     mode_overrides: Optional[dict[str, dict[str, Any]]] = None,
                     dataset: Optional["DatasetScan"] = None) -> list[Path]:
    """One training run per (backbone, mode) cell, one after the other, all on the same split;
    each mode with its defaults, `overrides`, then its own `mode_overrides`.

    `dataset`: the scan the Data page made, with the user's corrections (train_run uses it when
    its folder and split settings match the config's, and applies its corrections to a fresh
    scan when they do not); None scans the folder once, as it is, for every cell.

    Each run's result.json records its peak memory (train_run samples it) and metrics.jsonl
    each epoch's time. Emits RunTrained(TrainingResult) after each run; honours `state.cancel`
    between and within runs (a run stopped midway is still reported, with the epochs it
    finished).

    Returns:
        The run folders, in cell order.
    """
    from transfer_gui.core.models import get_backbone
    from transfer_gui.core.training.engine import train_run

    if not cells:
        raise ConfigError("Tick at least one backbone and mode to compare.")
    root = Path(runs_root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # every config is checked before the first run starts
    configs = grid_configs(data_dir, cells, overrides, mode_overrides)
    if dataset is None:
        dataset = _scan(state, configs[0])
    done: list[Path] = []
    for i, config in enumerate(configs):
        state.cancel.raise_if_cancelled()
        if gc.isenabled():  # the GUI collects on its own thread (ui/app.py), never here
            gc.collect()  # what the previous run left counts less in this one's peak memory
        label = MODE_NAMES[config.mode].lower()
        if len({c.backbone for c in configs}) > 1:
            label += f", {get_backbone(config.backbone).display_name}"
        start, end = i / len(configs), (i + 1) / len(configs)

        def report(p: Progress, label=label, start=start, end=end, i=i) -> None:
            fraction = None if p.fraction is None else start + (end - start) * p.fraction
            state.progress(Progress(fraction, f"{label} ({i + 1}/{len(configs)}): {p.message}",
                                    p.eta_seconds, p.stage, p.done, p.total))

        report(Progress(0.0, "starting"))
        run_dir = _unique_dir(root, f"{stamp}_{config.backbone}_{config.mode}")
        result = train_run(config, run_dir, progress=report, cancel=state.cancel,
                           dataset=dataset)
        done.append(Path(result.run_dir) if getattr(result, "run_dir", None) else run_dir)
        state.emit(RunTrained(result))
        if state.cancel.cancelled or getattr(result, "cancelled", False):
            raise Cancelled()
    return done
