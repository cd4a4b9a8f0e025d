"""The Compare window's jobs: estimate how long the three modes train, then train them one after
the other on the same data and backbone (`compare_modes_job`).

Both take the Data page's scan with the user's corrections (AppState.dataset), as the Train page
does, so left-out pictures stay out, relabelled ones count as their new class, and each run's
dataset.json records the corrections."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from transfer_gui.core.errors import Cancelled
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


def mode_configs(data_dir: str, backbone: str, overrides: Optional[dict[str, Any]] = None,
                 mode_overrides: Optional[dict[str, dict[str, Any]]] = None) -> list[TrainConfig]:
    """One config per mode: its defaults, then `overrides` (all modes), then its own changes."""
    return [TrainConfig.for_mode(str(data_dir), mode, backbone=backbone,
                                 **{**(overrides or {}), **(mode_overrides or {}).get(mode, {})})
            for mode in MODES]


def estimate_job(state, configs: list[TrainConfig], dataset=None) -> list[float]:
    """About how many seconds each config trains on this computer
    (per-image costs measured on a few of the dataset's images; the dataset is scanned when
    not given)."""
    from transfer_gui.core.data import scan_dataset
    from transfer_gui.core.training.image_costs import measure_image_costs

    first = configs[0]
    if dataset is None:
        dataset = scan_dataset(first.data_dir, val_fraction=first.val_fraction,
                               test_fraction=first.test_fraction, seed=first.split_seed,
                               cancel=state.cancel)
    sizes = SplitSizes(*(len(dataset.split(name)) for name in ("train", "val", "test")))
    costs = measure_image_costs(first.backbone, [s.path for s in dataset.samples], first.device,
                                cancel=state.cancel)
    return [planned_seconds(config, sizes, costs) for config in configs]


def compare_modes_job(state, data_dir: str, backbone: str, runs_root: str | Path,
                      overrides: Optional[dict[str, Any]] = None,
                      mode_overrides: Optional[dict[str, dict[str, Any]]] = None,
                      dataset: Optional["DatasetScan"] = None) -> list[Path]:
    """One training run per mode, same data and backbone; each mode
    with its defaults, `overrides`, then its own `mode_overrides`.

    `dataset`: the scan the Data page made, with the user's corrections (train_run uses it when
    its folder and split settings match the config's, and applies its corrections to a fresh
    scan when they do not); None scans the folder as it is.

    Emits RunTrained(TrainingResult) after each run; honours `state.cancel` between and within
    runs (a run stopped midway is still reported, with the epochs it finished).

    Returns:
        The run folders, in mode order.
    """
    from transfer_gui.core.training.engine import train_run

    root = Path(runs_root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # every config is checked before the first run starts
    configs = mode_configs(data_dir, backbone, overrides, mode_overrides)
    done: list[Path] = []
    for i, config in enumerate(configs):
        state.cancel.raise_if_cancelled()
        label = MODE_NAMES[config.mode].lower()
        start, end = i / len(configs), (i + 1) / len(configs)

        def report(p: Progress, label=label, start=start, end=end, i=i) -> None:
            fraction = None if p.fraction is None else start + (end - start) * p.fraction
            state.progress(Progress(fraction, f"{label} ({i + 1}/{len(configs)}): {p.message}",
                                    p.eta_seconds, p.stage, p.done, p.total))

        report(Progress(0.0, "starting"))
        run_dir = _unique_dir(root, f"{stamp}_{backbone}_{config.mode}")
        result = train_run(config, run_dir, progress=report, cancel=state.cancel,
                           dataset=dataset)
        done.append(Path(result.run_dir) if getattr(result, "run_dir", None) else run_dir)
        state.emit(RunTrained(result))
        if state.cancel.cancelled or getattr(result, "cancelled", False):
            raise Cancelled()
    return done
