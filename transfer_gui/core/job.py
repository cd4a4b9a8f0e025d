"""A training job for another machine: a folder with the settings, a manifest of the dataset's
files (relative paths, sizes, SHA-256, class and split) and the exact commands to run there.

    transfer-gui train --data DATA [options] --write-job JOB_DIR     (here, or the Train page)
    transfer-gui train --job JOB_DIR --out RUN_DIR [--data DATA]     (there)
    torchrun --nproc_per_node GPUS -m transfer_gui train --job JOB_DIR --out RUN_DIR
                                                   (there, one process per GPU)

The machine that runs it scans its copy of the dataset with the job's split settings and refuses
to train when that copy differs from the manifest (a file missing, added, changed, or in
another class or split), naming the first difference: the run there trains on exactly the
images chosen here. The job file is written last and whole (an atomic rename), so a folder
without job.json is not a job.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Optional

from .atomic import atomic_write_json, atomic_write_text, check_writable_folder
from .checksum import file_digest
from .data import DatasetScan
from .errors import DatasetError, UserError
from .jobs import CancelToken, Progress, ProgressCallback, no_progress
from .run_writer import software_versions
from .training.config import TrainConfig

JOB_FILE = "job.json"
README = "README.txt"
SCHEMA_VERSION = 1


class JobError(UserError):
    """A job folder that cannot be read, or a dataset that is not the job's."""


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative to the dataset folder, with "/" separators
    class_name: str
    split: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Job:
    folder: Path
    config: TrainConfig  # data_dir: the dataset folder where the job was made
    files: tuple[ManifestEntry, ...]

    def command(self, run_dir: str = "RUN_DIR", data_dir: Optional[str] = None,
                processes: Optional[str] = None) -> str:
        """The command line that runs this job: in one process, or with `processes` (a
        number, or a placeholder such as "GPUS") torchrun's, one process per GPU
        (core/training/distributed.py)."""
        job = shlex.quote(str(self.folder))
        data = f" --data {shlex.quote(data_dir)}" if data_dir else ""
        train = f"train --job {job} --out {shlex.quote(run_dir)}{data}"
        if processes is None:
            return f"transfer-gui {train}"
        return f"torchrun --nproc_per_node {processes} -m transfer_gui {train}"


def _relative(scan: DatasetScan, path: str) -> str:
    return PurePosixPath(*Path(os.path.relpath(path, scan.root)).parts).as_posix()


def manifest(scan: DatasetScan, progress: ProgressCallback = no_progress,
             cancel: Optional[CancelToken] = None) -> list[ManifestEntry]:
    """Every image of `scan` with its size and SHA-256 (read once each)."""
    entries = []
    total = len(scan.samples)
    for i, sample in enumerate(scan.samples):
        if cancel is not None:
            cancel.raise_if_cancelled()
        entries.append(ManifestEntry(_relative(scan, sample.path),
                                     scan.class_names[sample.label], sample.split,
                                     os.path.getsize(sample.path), file_digest(sample.path)))
        if i % 50 == 49 or i + 1 == total:
            progress(Progress((i + 1) / total, f"Listing the images {i + 1}/{total}",
                              done=i + 1, total=total, stage="manifest"))
    return entries


def write_job(folder: str | os.PathLike, config: TrainConfig, scan: DatasetScan,
              progress: ProgressCallback = no_progress,
              cancel: Optional[CancelToken] = None) -> Job:
    """Writes the job folder for training `config` on `scan` (made with the config's split
    settings) elsewhere. A folder that already holds a job is refused: choose a new one.

    Raises:
        JobError: The folder holds a job already; WriteError: it cannot be written.
    """
    folder = Path(folder).expanduser().absolute()
    if (folder / JOB_FILE).exists():
        raise JobError(f"{folder} already holds a job ({JOB_FILE}). Choose a new folder.",
                       path=str(folder))
    config = replace(config.validated(), data_dir=os.path.abspath(config.data_dir))
    entries = manifest(scan, progress, cancel)
    folder.mkdir(parents=True, exist_ok=True)
    check_writable_folder(folder, "the job folder")
    job = Job(folder, config, tuple(entries))
    command = job.command(data_dir="DATASET_FOLDER")
    several = job.command(data_dir="DATASET_FOLDER", processes="GPUS")
    atomic_write_text(folder / README, "\n".join([
        "A transfer_gui training job.",
        "",
        f"Dataset: {config.data_dir} ({len(entries)} images, {len(scan.class_names)} classes).",
        f"Settings: {config.mode}, {config.backbone}, batch size {config.batch_size}, "
        f"{config.epochs} epochs (all in {JOB_FILE}).",
        "",
        "Copy the dataset folder to the machine that trains (the same files: they are checked "
        "against the manifest in " + JOB_FILE + "), install transfer_gui there, then run:",
        "",
        f"    {command}",
        "",
        "or, on a machine with several GPUs (one process each; the batch size stays the "
        "whole batch, split across them):",
        "",
        f"    {several}",
        "",
        "(--data can be left out where the dataset has the same path as here.) Then follow or "
        "open RUN_DIR in the app.", ""]))
    atomic_write_json(folder / JOB_FILE, {
        "schema_version": SCHEMA_VERSION,
        "config": config.to_dict(),
        "class_names": list(scan.class_names),
        "files": [vars(e) for e in entries],
        "command": command,
        "software": software_versions(),
    })
    return job


def read_job(folder: str | os.PathLike) -> Job:
    """The job in `folder`.

    Raises:
        JobError: No job there, or a damaged or newer one (the message says which).
    """
    folder = Path(folder).expanduser().absolute()
    path = folder / JOB_FILE
    if not path.is_file():
        raise JobError(f"{folder} is not a job folder: it has no {JOB_FILE}. Make one with "
                       f"`transfer-gui train ... --write-job FOLDER` or the Train page's "
                       f"\"Run on another machine\".", path=str(folder))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data["schema_version"]
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise JobError(f"{path} was written by a newer transfer_gui; update it here.",
                           path=str(path))
        config = TrainConfig.from_dict(data["config"]).validated()
        files = tuple(ManifestEntry(str(f["path"]), str(f["class_name"]), str(f["split"]),
                                    int(f["size"]), str(f["sha256"])) for f in data["files"])
    except JobError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JobError(f"{path} is damaged or was edited by hand ({type(exc).__name__}: {exc}). "
                       f"Write the job again.", path=str(path)) from None
    return Job(folder, config, files)


def check_dataset(job: Job, scan: DatasetScan, progress: ProgressCallback = no_progress,
                  cancel: Optional[CancelToken] = None) -> None:
    """Refuses a scan whose images are not exactly the job's: the first file missing, added,
    changed, or in another class or split is named.

    Raises:
        DatasetError: The dataset differs from the manifest.
    """
    here = {_relative(scan, s.path): s for s in scan.samples}
    root = Path(scan.root)

    def differs(rel: str, why: str) -> DatasetError:
        return DatasetError(f"The dataset at {root} is not the job's: {rel} {why}. Copy the "
                            f"dataset the job was made from ({len(job.files)} images), or make "
                            f"a new job from this one.", path=str(root / rel))

    # Files missing or added first: either one also moves other files to other splits.
    for entry in job.files:
        if entry.path not in here:
            raise differs(entry.path, "is missing" if not (root / entry.path).exists() else
                          "is there but was left out of the scan (unreadable, or skipped)")
    listed = {entry.path for entry in job.files}
    added = sorted(rel for rel in here if rel not in listed)
    if added:
        raise differs(added[0], "is not in the job's manifest")
    for i, entry in enumerate(job.files):
        if cancel is not None:
            cancel.raise_if_cancelled()
        sample = here[entry.path]
        name = scan.class_names[sample.label]
        if name != entry.class_name:
            raise differs(entry.path, f"is in class {name!r}, the job's in {entry.class_name!r}")
        if sample.split != entry.split:
            raise differs(entry.path, f"falls in the {sample.split} split, the job's in the "
                                      f"{entry.split} split")
        if os.path.getsize(sample.path) != entry.size or file_digest(sample.path) != entry.sha256:
            raise differs(entry.path, "has other contents (its SHA-256 differs)")
        if i % 50 == 49 or i + 1 == len(job.files):
            progress(Progress((i + 1) / len(job.files),
                              f"Checking the images against the job {i + 1}/{len(job.files)}",
                              done=i + 1, total=len(job.files), stage="check"))


def job_config(job: Job, data_dir: Optional[str] = None) -> TrainConfig:
    """The job's settings, on `data_dir` (None: the folder the job was made from)."""
    folder = os.path.abspath(data_dir) if data_dir else job.config.data_dir
    if not os.path.isdir(folder):
        raise DatasetError(f"The job's dataset folder {folder} does not exist here. Give its "
                           f"copy with --data.", path=folder)
    return replace(job.config, data_dir=folder)


__all__ = ["Job", "JobError", "ManifestEntry", "write_job", "read_job", "check_dataset",
           "job_config", "manifest", "JOB_FILE"]
