"""Run folders written without training, for UI tests that only need a run to show.

`write_run` leaves the files a finished run leaves (config.json, metrics.jsonl, result.json,
evaluation.json; no model.pt), with an evaluation of the dataset's validation split in which a
few images are predicted wrong, so the Results page, the run picker and the Compare window show
what they would after a real run.
"""

from __future__ import annotations

import json
from pathlib import Path

from transfer_gui.core.data import scan_dataset
from transfer_gui.core.training.config import TrainConfig


def write_run(folder: Path, data_dir: Path, *, mode: str = "feature_extraction",
              backbone: str = "tiny_test", epochs: int = 3, cancelled: bool = False,
              mistakes: int = 3) -> Path:
    """A run folder for `data_dir`; `mistakes` validation images are predicted as the next class."""
    config = TrainConfig.for_mode(str(data_dir), mode, backbone=backbone, epochs=epochs)
    scan = scan_dataset(str(data_dir), val_fraction=config.val_fraction,
                        test_fraction=config.test_fraction, seed=config.split_seed)
    names = scan.class_names
    n = len(names)
    samples = scan.split("val")
    predicted = [s.label if i >= mistakes else (s.label + 1) % n for i, s in enumerate(samples)]
    matrix = [[0] * n for _ in range(n)]
    for s, p in zip(samples, predicted):
        matrix[s.label][p] += 1
    right = sum(matrix[i][i] for i in range(n))
    accuracy = right / max(len(samples), 1)
    per_class = [{"class": name, "precision": 0.9, "recall": 0.9, "f1": 0.9,
                  "support": sum(matrix[i])} for i, name in enumerate(names)]
    wrong = [{"file": s.path, "true": names[s.label], "predicted": names[p], "probability": 0.7,
              "true_probability": 0.2} for s, p in zip(samples, predicted) if p != s.label]
    evaluation = {"schema_version": 1, "class_names": names, "primary_split": "val",
                  "best_epoch": epochs, "splits": {"val": {
                      "num_samples": len(samples), "accuracy": accuracy,
                      "accuracy_ci95": [max(0.0, accuracy - 0.1), min(1.0, accuracy + 0.05)],
                      "balanced_accuracy": accuracy, "macro_f1": 0.9, "confusion_matrix": matrix,
                      "per_class": per_class, "misclassified": wrong}}}
    history = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.5 + e / (4 * epochs),
                "val_loss": 1.2 / e, "val_acc": accuracy * e / epochs, "seconds": 2.5}
               for e in range(1, epochs + 1)]
    result = {"best_epoch": epochs, "best_val_acc": accuracy, "epochs_run": epochs,
              "stop_reason": "stopped by the user" if cancelled else None,
              "cancelled": cancelled, "seconds": 2.5 * epochs, "device": "CPU",
              "has_model": True, "kept": None, "note": None, "probe": None}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict()), encoding="utf-8")
    (folder / "metrics.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history),
                                          encoding="utf-8")
    (folder / "result.json").write_text(json.dumps(result), encoding="utf-8")
    (folder / "evaluation.json").write_text(json.dumps(evaluation, ensure_ascii=False),
                                            encoding="utf-8")
    return folder
