"""The SHA-256 of a file's bytes: one home for the data doctor's exact copies and a job's
manifest (weights downloads hash while they write, in core/models/weights.py)."""

from __future__ import annotations

import hashlib
import os


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes, as hex."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
