"""Export a trained run as TorchScript, ONNX or a self-contained model bundle, and verify it.

Every export is checked right after it is written: the exported file re-scores the run's
validation set and must give the in-app model's class for every image, with probabilities within
`PROB_TOLERANCE`. A failed check raises `ExportCheckError` (the file stays, marked as failed).
Qt-free.
"""

from __future__ import annotations

from .check import (
    PROB_TOLERANCE,
    CheckResult,
    ExportCheckError,
    ValidationSet,
    check_export,
    load_validation_set,
)
from .run import FORMATS, ExportResult, export_run

__all__ = [
    "FORMATS",
    "PROB_TOLERANCE",
    "CheckResult",
    "ExportCheckError",
    "ExportResult",
    "ValidationSet",
    "check_export",
    "export_run",
    "load_validation_set",
]
