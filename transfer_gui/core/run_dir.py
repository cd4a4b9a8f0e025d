"""The run directory: every file a training run leaves, each written atomically.

- config.json      the TrainConfig (with schema_version) and the software versions
- dataset.json     classes, split counts, warnings and every skipped file with its reason
- metrics.jsonl    one JSON line per epoch: train/val loss and accuracy, lr, seconds
- model.pt         the best model so far (see model_file)
- evaluation.json  scores of the best model on the validation and test splits
- result.json      how the run ended: best epoch, stop reason, time, device
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json, atomic_write_text

CONFIG = "config.json"
DATASET = "dataset.json"
METRICS = "metrics.jsonl"
MODEL = "model.pt"
EVALUATION = "evaluation.json"
RESULT = "result.json"


def software_versions() -> dict[str, str]:
    import numpy
    import PIL
    import torch
    import torchvision

    from transfer_gui import __version__

    return {"transfer_gui": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__,
            "pillow": PIL.__version__, "python": platform.python_version()}


class RunDirectory:
    """Writes (and reads back) the files of one run in `path`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._metrics: list[dict[str, Any]] = []

    def file(self, name: str) -> Path:
        return self.path / name

    def create(self) -> "RunDirectory":
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_json(self.file(CONFIG), {**config, "software": software_versions()})

    def write_dataset(self, summary: dict[str, Any]) -> None:
        atomic_write_json(self.file(DATASET), summary)

    def append_metrics(self, epoch_metrics: dict[str, Any]) -> None:
        """Add one epoch's line; the whole (small) file is rewritten atomically."""
        self._metrics.append(epoch_metrics)
        atomic_write_text(self.file(METRICS),
                          "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in self._metrics))

    def write_evaluation(self, evaluation: dict[str, Any]) -> None:
        atomic_write_json(self.file(EVALUATION), evaluation)

    def write_result(self, result: dict[str, Any]) -> None:
        atomic_write_json(self.file(RESULT), result)

    def read_json(self, name: str) -> dict[str, Any]:
        return json.loads(self.file(name).read_text(encoding="utf-8"))

    def read_metrics(self) -> list[dict[str, Any]]:
        text = self.file(METRICS).read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]
