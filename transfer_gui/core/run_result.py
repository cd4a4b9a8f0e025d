"""Rebuild a TrainingResult from a run folder, so a reopened project shows its results again."""

from __future__ import annotations

from pathlib import Path

from .data import scan_dataset
from .errors import UserError
from .run_dir import CONFIG, EVALUATION, RESULT, RunDirectory
from .training.config import TrainConfig
from .training.engine import TrainingResult


def load_run_result(run_dir: str | Path) -> TrainingResult:
    """The TrainingResult a run folder records: configuration, epoch history, best epoch, stop
    reason and evaluation. The dataset is scanned again from the configuration (with its split
    seed, so the splits are the same); it is None when the dataset folder is gone.

    Raises:
        UserError: The folder is not a run folder (no readable config.json).
    """
    run = RunDirectory(run_dir)
    try:
        config = TrainConfig.from_dict(run.read_json(CONFIG))
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"{run.path} is not a readable run folder ({exc}).",
                        path=str(run.path)) from None
    history = run.read_metrics() if run.file("metrics.jsonl").is_file() else []
    summary = run.read_json(RESULT) if run.file(RESULT).is_file() else {}
    evaluation = run.read_json(EVALUATION) if run.file(EVALUATION).is_file() else None
    best_epoch = summary.get("best_epoch")
    best = next((m for m in history if m.get("epoch") == best_epoch), None)
    dataset = None
    if Path(config.data_dir).is_dir():
        try:
            dataset = scan_dataset(config.data_dir, val_fraction=config.val_fraction,
                                   test_fraction=config.test_fraction, seed=config.split_seed,
                                   leave_out_empty_classes=config.leave_out_empty_classes)
        except UserError:
            dataset = None
    return TrainingResult(run.path, config, dataset, history=history, best=best,
                          evaluation=evaluation, stop_reason=summary.get("stop_reason"),
                          cancelled=bool(summary.get("cancelled")), device=summary.get("device", ""),
                          seconds=float(summary.get("seconds") or 0.0),
                          probe=summary.get("probe"), kept=summary.get("kept"),
                          note=summary.get("note"))


