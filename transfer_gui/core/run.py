"""A run folder: the one owner of the files a training run leaves.

- config.json      the TrainConfig (with schema_version) and the software versions; after an
                   automatic search of the settings also "auto_settings" (core/auto: what was
                   searched, fixed and chosen, and every trial)
- dataset.json     classes, split counts, warnings and every skipped file with its reason
- metrics.jsonl    one JSON line per epoch: train/val loss and accuracy, lr, seconds
- model.pt         the best model (see model_file)
- evaluation.json  scores of the best model on the validation and test splits
- result.json      how the run ended: best epoch, stop reason, time, device, and the process's
                   peak memory during the run ("peak_memory", core/peak_memory.py)

Every reader goes through `Run` (open a folder, then ask for its config, metrics, evaluation,
result, model path or dataset); training writes through `RunWriter` (core/run_writer.py), which
stages a new run beside its destination and moves it into place whole. No other module names
these files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .errors import UserError

if TYPE_CHECKING:
    from .data import DatasetScan
    from .jobs import CancelToken, ProgressCallback
    from .training.config import TrainConfig

CONFIG = "config.json"
DATASET = "dataset.json"
METRICS = "metrics.jsonl"
MODEL = "model.pt"
EVALUATION = "evaluation.json"
RESULT = "result.json"
RUN_FILES = (CONFIG, DATASET, METRICS, EVALUATION, RESULT, MODEL)
AUTO_SETTINGS = "auto_settings"  # config.json's key of the settings search, when there was one


class NotARunError(UserError):
    """The folder is not a readable run folder."""


class Run:
    """A finished (or stopped) run folder, read-only. Files are read on each call (they are small)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Run":
        """The run folder at `path`, or at the folder holding `path` when it is a model.pt.

        Removes temporary files a killed writer left behind. Raises NotARunError when the folder
        has no config.json.
        """
        path = Path(path)
        if path.is_file() and path.name == MODEL:
            path = path.parent
        run = cls(path)
        if not run.file(CONFIG).is_file():
            raise NotARunError(f"{path} is not a run folder: it has no {CONFIG}.", path=str(path))
        run.remove_leftover_temporary_files()
        return run

    @classmethod
    def holding(cls, path: str | os.PathLike) -> Optional["Run"]:
        """The run folder that `path` is in (or is), if any: outputs must never land there."""
        path = Path(os.path.abspath(path))
        for folder in (path, *path.parents):
            if (folder / CONFIG).is_file() and (folder / MODEL).is_file():
                return cls(folder)
        return None

    @classmethod
    def refuse_output_inside(cls, path: str | os.PathLike, what: str = "") -> None:
        """Refuse, before any work, an output file or folder at `path` inside a run folder:
        only training writes there (an evaluation's JSON must not replace the run's own).

        Args:
            what: How the user named it (e.g. "--csv"), put before the path in the message.
        """
        holder = cls.holding(path)
        if holder is not None:
            label = f"{what} {path}" if what else str(path)
            raise UserError(f"{label} is inside the run folder {holder.path}, which only "
                            f"training writes. Choose a place outside it (beside the run "
                            f"folder, for example).", path=str(path))

    @staticmethod
    def is_run_folder(path: str | os.PathLike) -> bool:
        return (Path(path) / CONFIG).is_file()

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def model_path(self) -> Path:
        return self.path / MODEL

    @property
    def has_model(self) -> bool:
        return self.model_path.is_file()

    def files_present(self) -> list[str]:
        """The run's files that exist, in RUN_FILES order (what a project packs)."""
        return [name for name in RUN_FILES if self.file(name).is_file()]

    def remove_leftover_temporary_files(self) -> list[Path]:
        """Delete `.NAME.*.tmp` files (an atomic write a killed process never finished)."""
        removed = []
        for name in RUN_FILES:
            for leftover in self.path.glob(f".{name}.*.tmp"):
                try:
                    leftover.unlink()
                    removed.append(leftover)
                except OSError:
                    pass  # read-only folder: harmless, the file is never read
        return removed

    def _json(self, name: str, missing: Any = None) -> Any:
        path = self.file(name)
        if not path.is_file():
            return missing
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise NotARunError(f"{path} in run folder {self.path} cannot be read ({exc}).",
                               path=str(path)) from None

    def config_dict(self) -> dict[str, Any]:
        """config.json as written (TrainConfig fields, schema_version, software versions)."""
        data = self._json(CONFIG)
        if not isinstance(data, dict):
            raise NotARunError(f"{self.path} is not a run folder: its {CONFIG} is missing or "
                               f"not a settings object.", path=str(self.path))
        return data

    def config(self) -> "TrainConfig":
        from .training.config import TrainConfig

        try:
            config = TrainConfig.from_dict(self.config_dict())
        except (ValueError, TypeError) as exc:
            raise NotARunError(f"{self.path} is not a readable run folder ({exc}).",
                               path=str(self.path)) from None
        return config

    def auto_settings(self) -> Optional[dict[str, Any]]:
        """The automatic search that chose the run's settings (config.json's "auto_settings"),
        or None when the settings were not searched."""
        found = self.config_dict().get(AUTO_SETTINGS)
        return found if isinstance(found, dict) else None

    def ensemble_members(self) -> list[str]:
        """The backbones an ensemble run averages (config.json's "ensemble"), [] for any
        other run (an ensemble build that kept its best single model included)."""
        ensemble = self.config_dict().get("ensemble")
        members = ensemble.get("members") if isinstance(ensemble, dict) else None
        return [str(m) for m in members] if isinstance(members, list) else []

    def data_dir(self) -> Path:
        """The dataset folder the run trained on (a relative record is relative to the run)."""
        return self._data_dir(self.config_dict().get("data_dir"))

    def _data_dir(self, recorded: Any) -> Path:
        recorded = Path(str(recorded or ""))
        return recorded if recorded.is_absolute() else (self.path / recorded).resolve()

    def trained_on(self, folder: str | os.PathLike) -> bool:
        """Whether config.json records `folder` as the run's dataset (False when unreadable)."""
        try:
            recorded = self.config_dict().get("data_dir")
        except NotARunError:
            return False
        if not isinstance(recorded, str) or not recorded:
            return False
        try:
            return Path(recorded).expanduser().resolve() == Path(folder).expanduser().resolve()
        except (OSError, RuntimeError):
            return False

    def move_dataset(self, old: str | os.PathLike, new: str | os.PathLike) -> bool:
        """Record that the run's dataset folder moved from `old` to `new` (a project's dataset
        was found elsewhere); False when the run trained on another folder or cannot be read.
        The one change made to a finished run: its config.json's data_dir, written atomically."""
        from .atomic import atomic_write_json

        if not self.trained_on(old):
            return False
        atomic_write_json(self.file(CONFIG), {**self.config_dict(), "data_dir": str(new)})
        return True

    def metrics(self, required: bool = False) -> list[dict[str, Any]]:
        """One dict per epoch line of metrics.jsonl ([] when there is none, unless `required`)."""
        path = self.file(METRICS)
        if not path.is_file():
            if required:
                raise NotARunError(f"{self.path} is not a run folder: it has no {METRICS}.",
                                   path=str(self.path))
            return []
        try:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip()]
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise NotARunError(f"{path} in run folder {self.path} cannot be read ({exc}).",
                               path=str(path)) from None
        if not all(isinstance(r, dict) for r in rows):
            raise NotARunError(f"{path} in run folder {self.path} has a line that is not a JSON "
                               f"object.", path=str(path))
        return rows

    def _object(self, name: str) -> Optional[dict[str, Any]]:
        data = self._json(name)
        if data is not None and not isinstance(data, dict):
            raise NotARunError(f"{self.file(name)} in run folder {self.path} is not a JSON object.",
                               path=str(self.file(name)))
        return data

    def result(self) -> dict[str, Any]:
        """result.json ({} when the run ended before writing it)."""
        return self._object(RESULT) or {}

    def evaluation(self) -> Optional[dict[str, Any]]:
        """evaluation.json, or None (a run stopped before its evaluation)."""
        return self._object(EVALUATION)

    def dataset_summary(self) -> Optional[dict[str, Any]]:
        """dataset.json: classes, counts, warnings and skipped files; None when absent."""
        return self._object(DATASET)

    def dataset(self, *, progress: Optional["ProgressCallback"] = None,
                cancel: Optional["CancelToken"] = None) -> "DatasetScan":
        """The dataset scanned again as the run recorded it (same folder, fractions and split seed,
        so the same splits, and the user's corrections recorded in dataset.json). The one place
        that rescans a run's dataset.

        Raises:
            UserError: The dataset folder is gone, or no longer a dataset.
        """
        from .data import scan_dataset
        from .data.corrections import DataCorrections
        from .jobs import no_progress

        config = self.config()
        data_dir = self._data_dir(config.data_dir)
        if not data_dir.is_dir():
            raise UserError(f"The dataset folder of run {self.path.name}, {data_dir}, is missing. "
                            f"Put it back at that path (or point the project at its new place).",
                            path=str(data_dir))
        scan = scan_dataset(str(data_dir), val_fraction=config.val_fraction,
                            test_fraction=config.test_fraction, seed=config.split_seed,
                            leave_out_empty_classes=config.leave_out_empty_classes,
                            progress=progress or no_progress, cancel=cancel)
        recorded = (self.dataset_summary() or {}).get("corrections")
        return DataCorrections.from_dict(recorded).applied(scan) if recorded else scan


__all__ = ["Run", "NotARunError", "RUN_FILES", "CONFIG", "DATASET", "METRICS", "MODEL",
           "EVALUATION", "RESULT", "AUTO_SETTINGS"]
