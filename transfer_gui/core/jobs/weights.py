"""The Model page's jobs: download a backbone's pretrained weights, or import a weights file."""

from __future__ import annotations

from typing import Optional

from transfer_gui.core.jobs import Progress
from transfer_gui.core.models import get_backbone, import_weights
from transfer_gui.core.models.registry import pretrained_weights_file


def download_job(state, name: str) -> str:
    """Download backbone `name`'s ImageNet weights (MB progress, honours cancel); returns the
    weights file."""
    spec = get_backbone(name)

    def report(done: int, total: Optional[int]) -> None:
        state.progress(Progress(done / total if total else None,
                                f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total
                                else f"{done / 1e6:.1f} MB", stage="download"))

    return str(pretrained_weights_file(spec, progress=report, cancel=state.cancel))


def import_job(state, name: str, path: str) -> str:
    """Check and copy the weights file at `path` for backbone `name`; returns where it went."""
    return str(import_weights(get_backbone(name), path))
