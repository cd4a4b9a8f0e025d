"""The Export dialog's job: export a run's model and check the exported file."""

from __future__ import annotations

from transfer_gui.core.export import ExportResult, export_run


def export_job(state, run_dir: str, fmt: str, out: str) -> ExportResult:
    """Export and check (ExportCheckError ends it as a failure)."""
    return export_run(run_dir, fmt, out, progress=state.progress, cancel=state.cancel)
