"""The Data page's job: scan a dataset folder."""

from __future__ import annotations

from transfer_gui.core.data import DatasetScan, scan_dataset
from transfer_gui.core.errors import EmptyClassError


def scan_job(state, folder: str, leave_out_empty: bool = False) -> DatasetScan | EmptyClassError:
    """Scan `folder` (reports progress, honours cancel). Empty class folders come back as the
    EmptyClassError (not a failure): the page offers to leave them out."""
    try:
        return scan_dataset(folder, leave_out_empty_classes=leave_out_empty,
                            progress=state.progress, cancel=state.cancel)
    except EmptyClassError as error:
        return error
