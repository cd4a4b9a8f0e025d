"""Writing a run folder whole or not at all.

A new run is written into a hidden staging folder beside its destination
(`.NAME.partial-PID`); `commit` renames it into place once it has a model, so a failed,
interrupted or concurrent training never leaves a mix of two runs, and a good run folder is never
touched by one that fails. A lock file beside the destination (`.NAME.lock`, with the writer's
PID and host) stops a second writer with a clear message; the lock of a dead process on this
host is taken over.

Every file of a run is written here (atomically), so a distributed run can write on one rank only.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .atomic import (WriteError, atomic_write_json, atomic_write_text, explain_write_error,
                     finite_json)
from .errors import UserError
from .run import CONFIG, DATASET, EVALUATION, METRICS, MODEL, RESULT, Run


class RunFolderError(UserError):
    """The destination cannot take a new run (it holds one, or another process writes it)."""


def software_versions() -> dict[str, str]:
    import numpy
    import PIL
    import torch
    import torchvision

    from transfer_gui import __version__

    return {"transfer_gui": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__,
            "pillow": PIL.__version__, "python": platform.python_version()}


def process_alive(pid: int) -> bool:
    """Whether process `pid` runs on this computer (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's) or we cannot tell: assume alive
    return True


class RunLock:
    """An exclusive lock on a run destination: a file created with O_EXCL."""

    def __init__(self, destination: Path) -> None:
        self.path = destination.parent / f".{destination.name}.lock"
        self.destination = destination
        self.held = False
        self.dead_owner: Optional[int] = None  # the PID of a dead writer whose lock was taken

    def acquire(self) -> None:
        info = {"pid": os.getpid(), "host": platform.node(), "started": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._remove_if_stale():
                    raise self._locked_error() from None
                continue
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(info, f)
            except OSError:  # a full disk: leave no ownerless lock that would stop the next try
                self.path.unlink(missing_ok=True)
                raise
            self.held = True
            return
        raise self._locked_error()

    def _owner(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _remove_if_stale(self) -> bool:
        owner = self._owner()
        pid = owner.get("pid")
        if owner.get("host") == platform.node() and isinstance(pid, int) and not process_alive(pid):
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            self.dead_owner = pid
            return True
        return False

    def _locked_error(self) -> RunFolderError:
        owner = self._owner()
        who = (f"process {owner.get('pid')} on {owner.get('host')}" if owner
               else "another process")
        return RunFolderError(
            f"Another training ({who}) is writing the run folder {self.destination}. Wait for it "
            f"to finish or choose another output folder. If no training is running, delete "
            f"{self.path}.", path=str(self.destination))

    def release(self) -> None:
        if self.held:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            self.held = False


def _staging_folder(destination: Path, pid: int | str) -> Path:
    """Where process `pid` writes a new run for `destination` ("*": a glob of any process's)."""
    return destination.parent / f".{destination.name}.partial-{pid}"


def staged_run(destination: str | os.PathLike) -> Optional[Run]:
    """The run being written for `destination` right now (its staging folder), if any: what a
    window following a training shows before the run is moved into place."""
    destination = Path(os.path.abspath(destination))
    staged = sorted(destination.parent.glob(_staging_folder(destination, "*").name),
                    key=lambda p: p.stat().st_mtime if p.exists() else 0)
    return Run(staged[-1]) if staged else None


class RunWriter:
    """Writes one new run. Use as a context manager; `commit()` moves it into place.

    Args:
        destination: The run folder to create.
        overwrite: Replace a run already there (only once the new one has a model).
    """

    def __init__(self, destination: str | os.PathLike, overwrite: bool = False) -> None:
        self.destination = Path(os.path.abspath(destination))
        self.overwrite = overwrite
        self.path = _staging_folder(self.destination, os.getpid())
        self.lock = RunLock(self.destination)
        self._metrics: list[dict[str, Any]] = []
        self.final_path: Optional[Path] = None

    # -- life cycle ----------------------------------------------------------------------------
    def __enter__(self) -> "RunWriter":
        self.check_destination()
        try:
            self.destination.parent.mkdir(parents=True, exist_ok=True)
            self.lock.acquire()
        except OSError as exc:
            raise self._explained(exc) from None
        try:
            if self.lock.dead_owner is not None:  # what a killed writer staged: never a run
                shutil.rmtree(_staging_folder(self.destination, self.lock.dead_owner),
                              ignore_errors=True)
            if self.path.exists():
                shutil.rmtree(self.path)
            self.path.mkdir()
        except BaseException as exc:
            self.lock.release()
            if isinstance(exc, OSError):
                raise self._explained(exc) from None
            raise
        return self

    def _explained(self, exc: OSError) -> OSError:
        """A read-only folder, no permission or a full disk as a WriteError naming the run
        folder (no traceback); any other error as it is."""
        return explain_write_error(exc, self.destination) or exc

    def __exit__(self, exc_type, exc, tb) -> None:
        if isinstance(exc, WriteError) and str(self.path) in str(exc):
            # Name the run folder the user chose, not the staging folder beside it.
            exc.args = (str(exc).replace(str(self.path), str(self.destination)), *exc.args[1:])
            for attr in ("path", "filename"):
                value = getattr(exc, attr, None)
                if isinstance(value, str):
                    setattr(exc, attr, value.replace(str(self.path), str(self.destination)))
        try:
            if self.final_path is None and self.path.exists():
                shutil.rmtree(self.path, ignore_errors=True)  # failed: nothing half-written stays
        finally:
            self.lock.release()

    def check_destination(self) -> None:
        """Refuse a destination that is a file, or holds anything, unless overwriting a run."""
        d = self.destination
        if d.exists() and not d.is_dir():
            raise RunFolderError(f"{d} is a file; give a folder for the run.", path=str(d))
        if d.is_dir() and any(d.iterdir()):
            if not Run.is_run_folder(d):
                raise RunFolderError(f"{d} already holds files that are not a run. Choose a new "
                                     f"or empty folder for the run.", path=str(d))
            if not self.overwrite:
                raise RunFolderError(f"{d} already holds a run. Choose another folder, or "
                                     f"replace that run with --overwrite.", path=str(d))

    def commit(self) -> Path:
        """Move the staged run into place (replacing an old run there); returns its folder."""
        old = None
        if self.destination.exists():
            self.check_destination()
            old = self.destination.parent / f".{self.destination.name}.old-{os.getpid()}"
            os.replace(self.destination, old)
        try:
            os.replace(self.path, self.destination)
        except OSError:
            if old is not None:
                os.replace(old, self.destination)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.final_path = self.destination
        return self.destination

    def keep_partial(self) -> Path:
        """Keep an interrupted run beside the destination as `NAME.partial` (or `.partial-2`, ...)."""
        for k in range(1, 1000):
            candidate = self.destination.parent / (
                f"{self.destination.name}.partial" + (f"-{k}" if k > 1 else ""))
            if not candidate.exists():
                os.replace(self.path, candidate)
                self.final_path = candidate
                return candidate
        raise OSError(errno.EEXIST, "too many partial runs", str(self.destination))

    def finish(self, has_model: bool, interrupted: bool) -> Path:
        """Commit a run with a model unless an interruption would replace an older run there;
        keep an interrupted one as a partial run; discard a run without a model otherwise."""
        occupied = self.destination.exists() and any(self.destination.iterdir())
        if has_model and not (interrupted and occupied):
            return self.commit()
        if interrupted:
            return self.keep_partial()
        return self.destination  # nothing to keep: __exit__ removes the staging folder

    # -- files ---------------------------------------------------------------------------------
    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def model_path(self) -> Path:
        return self.path / MODEL

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_json(self.file(CONFIG), {**config, "software": software_versions()})

    def write_dataset(self, summary: dict[str, Any]) -> None:
        atomic_write_json(self.file(DATASET), summary)

    def append_metrics(self, epoch_metrics: dict[str, Any]) -> None:
        """Add one epoch's line; the whole (small) file is rewritten atomically."""
        self._metrics.append(epoch_metrics)
        atomic_write_text(self.file(METRICS),
                          "".join(json.dumps(finite_json(m), ensure_ascii=False, allow_nan=False)
                                  + "\n" for m in self._metrics))

    def write_evaluation(self, evaluation: dict[str, Any]) -> None:
        atomic_write_json(self.file(EVALUATION), evaluation)

    def write_result(self, result: dict[str, Any]) -> None:
        atomic_write_json(self.file(RESULT), result)

    def write_model(self, save: Callable[[Path], Any]) -> None:
        """Write model.pt with `save(path)` (core/model_file's writer)."""
        save(self.model_path)


class OtherRankWriter(RunWriter):
    """The run writer of a distributed run's processes other than rank 0: it writes nothing,
    takes no lock and stages nothing (rank 0's RunWriter writes the run)."""

    def __enter__(self) -> "OtherRankWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        return None

    def finish(self, has_model: bool, interrupted: bool) -> Path:
        return self.destination

    def write_config(self, config: dict[str, Any]) -> None:
        pass

    def write_dataset(self, summary: dict[str, Any]) -> None:
        pass

    def append_metrics(self, epoch_metrics: dict[str, Any]) -> None:
        pass

    def write_evaluation(self, evaluation: dict[str, Any]) -> None:
        pass

    def write_result(self, result: dict[str, Any]) -> None:
        pass

    def write_model(self, save: Callable[[Path], Any]) -> None:
        pass


__all__ = ["RunWriter", "OtherRankWriter", "RunLock", "RunFolderError", "software_versions",
           "staged_run"]
