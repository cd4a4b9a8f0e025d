"""Run comparison: summaries and the table, on hand-written run folders with known numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from transfer_gui.cli import main
from transfer_gui.core.compare import compare_runs, format_table, load_run_summary
from transfer_gui.core.errors import UserError


def write_run(folder: Path, config: dict, metrics: list[dict], evaluation: dict | None = None,
              result: dict | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics),
                                          encoding="utf-8")
    if evaluation is not None:
        (folder / "evaluation.json").write_text(json.dumps(evaluation), encoding="utf-8")
    if result is not None:
        (folder / "result.json").write_text(json.dumps(result), encoding="utf-8")
    return folder


def epoch(n, val_loss, val_acc, seconds):
    return {"epoch": n, "train_loss": 1.0, "train_acc": 0.5, "val_loss": val_loss,
            "val_acc": val_acc, "lr": 0.001, "seconds": seconds}


@pytest.fixture
def two_runs(tmp_path):
    alpha = write_run(
        tmp_path / "alpha",
        {"schema_version": 1, "data_dir": "/d", "backbone": "resnet18", "mode": "feature_extraction",
         "epochs": 30, "batch_size": 32, "learning_rate": 0.003, "augmentation": "none"},
        [epoch(1, 0.9, 0.5, 4.0), epoch(2, 0.6, 0.75, 4.0), epoch(3, 0.7, 0.7, 4.34)],
        evaluation={"schema_version": 1, "class_names": ["a", "b"], "primary_split": "test",
                    "best_epoch": 2, "splits": {"val": {"accuracy": 0.75, "macro_f1": 0.5},
                                                "test": {"accuracy": 0.7, "macro_f1": 0.66666}}},
        result={"best_epoch": 2, "best_val_acc": 0.75, "epochs_run": 3,
                "stop_reason": "early stopping", "cancelled": False, "seconds": 12.34,
                "device": "cpu", "has_model": True})
    beta = write_run(
        tmp_path / "beta-longer-name",
        {"schema_version": 1, "data_dir": "/d", "backbone": "efficientnet_lite0",
         "mode": "fine_tuning", "epochs": 10, "batch_size": 16, "learning_rate": 0.001,
         "augmentation": "light"},
        [epoch(1, 0.8, 0.625, 50.0), epoch(2, 0.4, 0.875, 50.0)])  # no evaluation, no result
    return alpha, beta


def test_summary_values(two_runs):
    a, b = compare_runs(two_runs)
    assert (a.name, a.backbone, a.mode) == ("alpha", "resnet18", "feature_extraction")
    assert (a.epochs_run, a.max_epochs, a.learning_rate, a.batch_size, a.augmentation) == \
        (3, 30, 0.003, 32, "none")
    assert a.best_val_acc == 0.75 and a.macro_f1 == 0.66666 and a.seconds == 12.34
    assert a.stop_reason == "early stopping"
    assert a.epochs == [1, 2, 3] and a.val_loss == [0.9, 0.6, 0.7] and a.val_acc == [0.5, 0.75, 0.7]
    # Without result.json/evaluation.json: best from metrics, seconds summed, no macro-F1.
    assert (b.epochs_run, b.max_epochs, b.best_val_acc, b.seconds, b.macro_f1) == \
        (2, 10, 0.875, 100.0, None)
    assert b.stop_reason == "" and b.val_acc == [0.625, 0.875]


EXPECTED = (
    "run               backbone            mode                epochs  lr     best val acc  macro-F1  seconds  s/epoch  peak MB\n"
    "alpha             resnet18            feature_extraction  3/30    0.003  75.0%         0.667     12.3     4.11     -\n"
    "beta-longer-name  efficientnet_lite0  fine_tuning         2/10    0.001  87.5%         -         100.0    50.00    -")


def test_table_exact(two_runs):
    assert format_table(compare_runs(two_runs)) == EXPECTED


def test_cli_compare(two_runs, capsys):
    assert main(["compare", *map(str, two_runs)]) == 0
    assert capsys.readouterr().out == EXPECTED + "\n"


def test_bad_folder_named(tmp_path, capsys):
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    with pytest.raises(UserError, match="not_a_run.*config.json"):
        load_run_summary(empty)
    (empty / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UserError, match="not_a_run.*metrics.jsonl"):
        load_run_summary(empty)
    assert main(["compare", str(empty)]) == 2
    assert "not_a_run" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing")]) == 2


def test_real_tiny_run_loads(tiny_backbone, color_dataset, tmp_path):
    from transfer_gui.core.features import FeatureCache
    from transfer_gui.core.training.config import TrainConfig
    from transfer_gui.core.training.engine import train_run

    run = tmp_path / "tiny_run"
    train_run(TrainConfig.for_mode(str(color_dataset), "feature_extraction", backbone="tiny_test",
                                   epochs=3, batch_size=8), run, feature_cache=FeatureCache())
    (s,) = compare_runs([run])
    result = json.loads((run / "result.json").read_text())
    assert (s.name, s.backbone, s.mode, s.max_epochs) == ("tiny_run", "tiny_test",
                                                          "feature_extraction", 3)
    assert s.epochs_run == result["epochs_run"] == len(s.epochs) == len(s.val_acc)
    assert s.best_val_acc == pytest.approx(result["best_val_acc"])
    assert s.macro_f1 is not None and 0.0 <= s.macro_f1 <= 1.0
    lines = format_table([s]).splitlines()
    assert len(lines) == 2 and lines[1].startswith("tiny_run  tiny_test")
    assert s.peak_memory_bytes == result["peak_memory"]["rss_bytes"] > 0  # Linux: measured
    assert s.val_images is not None and s.epoch_seconds is not None
