"""Compare training runs: one summary per run folder, and an aligned plain-text table of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from .errors import UserError
from .run import Run

COLUMNS = ("run", "backbone", "mode", "epochs", "lr", "best val acc", "macro-F1", "seconds",
           "s/epoch", "peak MB")


@dataclass
class RunSummary:
    """The facts of one run folder that matter when comparing runs.

    Attributes:
        name: The run folder's name.
        path: The run folder.
        backbone, mode: From config.json.
        epochs_run: Epochs that finished; max_epochs: the configured maximum.
        learning_rate, batch_size, augmentation: Key settings from config.json.
        best_val_acc: Best validation accuracy (result.json, else the best metrics line).
        macro_f1: Macro-F1 of evaluation.json's primary split; None without one.
        seconds: Training time (result.json, else the sum of the epochs' seconds).
        stop_reason: Why training ended (result.json), "" when unknown.
        cancelled: The user stopped the run before it finished (result.json).
        epochs, val_loss, val_acc: The per-epoch validation curves from metrics.jsonl.
        epoch_seconds: Mean time of a training epoch (fine-tuning's epoch 0, the probe's
            validation, left out); None when the metrics do not say.
        peak_memory_bytes: The process's largest resident memory during the run (result.json's
            "peak_memory", core/peak_memory.py); None when not measured (older runs, or a
            system where it cannot be read). start_memory_bytes: the same at the run's start.
        val_images: Validation images (dataset.json); None when unknown.
    """

    name: str
    path: Path
    backbone: str
    mode: str
    epochs_run: int
    max_epochs: Optional[int]
    learning_rate: Optional[float]
    batch_size: Optional[int]
    augmentation: str
    best_val_acc: Optional[float]
    macro_f1: Optional[float]
    seconds: Optional[float]
    stop_reason: str
    cancelled: bool = False
    epochs: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    epoch_seconds: Optional[float] = None
    peak_memory_bytes: Optional[int] = None
    start_memory_bytes: Optional[int] = None
    val_images: Optional[int] = None


def _float(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def load_run_summary(path: str | Path) -> RunSummary:
    """Read a run folder; a UserError names the folder when it is not a run folder."""
    run = Path(path)
    if not run.is_dir():
        raise UserError(f"Run folder not found: {run}", path=str(run))
    folder = Run.open(run)
    config = folder.config_dict()
    metrics = folder.metrics(required=True)
    result = folder.result()
    evaluation = folder.evaluation() or {}

    epochs = [int(m.get("epoch", i + 1)) for i, m in enumerate(metrics)]
    val_loss = [_float(m.get("val_loss")) for m in metrics]
    val_acc = [_float(m.get("val_acc")) for m in metrics]

    best = _float(result.get("best_val_acc"))
    if best is None:
        accs = [a for a in val_acc if a is not None]
        best = max(accs) if accs else None
    seconds = _float(result.get("seconds"))
    if seconds is None and metrics:
        secs = [_float(m.get("seconds")) for m in metrics]
        seconds = sum(s for s in secs if s is not None) if any(s is not None for s in secs) else None
    trained = [_float(m.get("seconds")) for m, e in zip(metrics, epochs) if e >= 1]
    trained = [t for t in trained if t is not None]
    epoch_seconds = sum(trained) / len(trained) if trained else None
    epochs_run = result.get("epochs_run")
    if not isinstance(epochs_run, int):
        epochs_run = len(metrics)

    macro_f1 = None
    splits = evaluation.get("splits")
    if isinstance(splits, dict) and splits:
        primary = evaluation.get("primary_split")
        split = splits.get(primary) if primary in splits else None
        if isinstance(split, dict):
            macro_f1 = _float(split.get("macro_f1"))

    max_epochs = config.get("epochs")
    batch_size = config.get("batch_size")
    memory = result.get("peak_memory") if isinstance(result.get("peak_memory"), dict) else {}
    return RunSummary(
        name=run.resolve().name, path=run, backbone=_backbone(config),
        mode=str(config.get("mode", "")), epochs_run=epochs_run,
        max_epochs=max_epochs if isinstance(max_epochs, int) else None,
        learning_rate=_float(config.get("learning_rate")),
        batch_size=batch_size if isinstance(batch_size, int) else None,
        augmentation=str(config.get("augmentation", "")), best_val_acc=best, macro_f1=macro_f1,
        seconds=seconds, stop_reason=str(result.get("stop_reason") or ""),
        cancelled=bool(result.get("cancelled")),
        epochs=epochs, val_loss=val_loss, val_acc=val_acc, epoch_seconds=epoch_seconds,
        peak_memory_bytes=_int(memory.get("rss_bytes")),
        start_memory_bytes=_int(memory.get("start_rss_bytes")),
        val_images=_val_images(folder.dataset_summary()))


def _int(value: Any) -> Optional[int]:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _val_images(dataset: Optional[dict]) -> Optional[int]:
    """Validation images of a run's dataset.json ("counts": class -> split -> n)."""
    counts = (dataset or {}).get("counts")
    if not isinstance(counts, dict):
        return None
    n = sum(c.get("val", 0) for c in counts.values() if isinstance(c, dict))
    return n if isinstance(n, int) and n > 0 else None


def _backbone(config: dict) -> str:
    """The run's backbone, or an ensemble's members ("efficientnet_lite1+efficientnet_lite2")."""
    ensemble = config.get("ensemble")  # core/ensemble's runs
    members = ensemble.get("members") if isinstance(ensemble, dict) else None
    return "+".join(map(str, members)) if members else str(config.get("backbone", ""))


def compare_runs(paths: Sequence[str | Path]) -> list[RunSummary]:
    """One summary per run folder, in the order given."""
    return [load_run_summary(p) for p in paths]


def _row(s: RunSummary) -> tuple[str, ...]:
    dash = "-"
    epochs = f"{s.epochs_run}/{s.max_epochs}" if s.max_epochs is not None else str(s.epochs_run)
    return (s.name, s.backbone or dash, s.mode or dash, epochs,
            f"{s.learning_rate:g}" if s.learning_rate is not None else dash,
            f"{s.best_val_acc:.1%}" if s.best_val_acc is not None else dash,
            f"{s.macro_f1:.3f}" if s.macro_f1 is not None else dash,
            f"{s.seconds:.1f}" if s.seconds is not None else dash,
            f"{s.epoch_seconds:.2f}" if s.epoch_seconds is not None else dash,
            f"{s.peak_memory_bytes / 1e6:.0f}" if s.peak_memory_bytes is not None else dash)


def format_table(summaries: Sequence[RunSummary]) -> str:
    """An aligned plain-text table: a header line, then one line per run (no trailing spaces)."""
    rows = [COLUMNS, *(_row(s) for s in summaries)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in rows)
