"""The Train page's "Run on another machine…" job: `write_job` (core/job.py) for the current
settings on the Data page's scan (scanned again only when its split settings are not the
config's), hashing every image in the background."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from transfer_gui.core.data import DatasetScan
from transfer_gui.core.job import Job, write_job
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import scan_for


def job_folder_job(state, folder: Path, config: TrainConfig,
                   scan: Optional[DatasetScan] = None) -> Job:
    scan = scan_for(config, state.progress, state.cancel, reuse=scan)
    return write_job(folder, config, scan, state.progress, state.cancel)
