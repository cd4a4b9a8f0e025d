"""Backbone features kept on disk between sessions: a bounded, least-recently-used cache.

One entry per (recipe, image folder) holds the feature rows of that folder's images, each row
found by its file signature (path, size, modification time), so an edited image is recomputed.
Entries are numpy archives (read with allow_pickle=False) written atomically; an entry's
modification time is its last use, and above `max_bytes` the least recently used entries are
deleted. A damaged or foreign entry is a cache miss and is deleted.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from .atomic import atomic_write

DEFAULT_MAX_BYTES = 2 * 1024 ** 3
ENTRY_PREFIX = "entry-"
ENTRY_SUFFIX = ".npz"


def signature_path(signature: str) -> str:
    """The image path of a file signature ("path|size|mtime")."""
    return signature.rsplit("|", 2)[0]


def signature_group(signature: str) -> str:
    """The folder whose images share one entry with this signature's image."""
    return os.path.dirname(signature_path(signature))


class FeatureStore:
    """Feature entries in `directory`, at most `max_bytes` of them (roughly: the newest entry is
    kept even when it alone is bigger)."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = int(max_bytes)

    def entry_path(self, recipe: str, group: str) -> Path:
        digest = hashlib.sha256(f"{recipe}\x1f{group}".encode("utf-8", "surrogatepass"))
        return self.directory / f"{ENTRY_PREFIX}{digest.hexdigest()[:32]}{ENTRY_SUFFIX}"

    def load(self, recipe: str, group: str, dim: int) -> Optional[tuple[list[str], np.ndarray]]:
        """(signatures, rows) of an entry, or None when there is none or it is unreadable
        (then it is deleted). Reading it marks it as just used."""
        path = self.entry_path(recipe, group)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                if str(saved["recipe"]) != recipe or str(saved["group"]) != group:
                    raise ValueError("another recipe or folder")
                signatures = [str(s) for s in saved["signatures"]]
                rows = np.asarray(saved["data"], dtype=np.float32)
            if rows.ndim != 2 or rows.shape != (len(signatures), dim):
                raise ValueError("wrong shape")
        except Exception:  # noqa: BLE001  (truncated zip, bad header, missing key: just a miss)
            self._remove(path)
            return None
        self._touch(path)
        return signatures, rows

    def save(self, recipe: str, group: str, signatures: Sequence[str], rows: np.ndarray) -> Path:
        """Write (replace) one entry atomically; it counts as just used."""
        path = self.entry_path(recipe, group)
        atomic_write(path, lambda f: np.savez(
            f, recipe=np.array(recipe), group=np.array(group),
            signatures=np.array(list(signatures), dtype=str),
            data=np.ascontiguousarray(rows, dtype=np.float32)))
        self._touch(path)
        return path

    def entries(self) -> list[os.DirEntry]:
        try:
            with os.scandir(self.directory) as it:
                return [e for e in it if e.name.startswith(ENTRY_PREFIX)
                        and e.name.endswith(ENTRY_SUFFIX) and e.is_file()]
        except FileNotFoundError:
            return []

    def size_bytes(self) -> int:
        """Bytes the entries take on disk."""
        return sum(_size(e) for e in self.entries())

    def evict(self, keep: Iterable[Path] = ()) -> list[Path]:
        """Delete least recently used entries until at most `max_bytes` remain; entries in `keep`
        (just written) go last, and the newest one stays. Returns the deleted paths."""
        keep = {Path(p).name for p in keep}
        found = [(e.name in keep, _mtime(e), Path(e.path), _size(e)) for e in self.entries()]
        found.sort()
        total = sum(size for *_, size in found)
        removed = []
        for _, _, path, size in found[:-1]:
            if total <= self.max_bytes:
                break
            if self._remove(path):
                removed.append(path)
            total -= size
        return removed

    def clear(self) -> int:
        """Delete every entry; returns the bytes freed."""
        freed = 0
        for entry in self.entries():
            size = _size(entry)
            if self._remove(Path(entry.path)):
                freed += size
        return freed

    @staticmethod
    def _touch(path: Path) -> None:
        try:
            now = time.time_ns()
            os.utime(path, ns=(now, now))
        except OSError:
            pass

    @staticmethod
    def _remove(path: Path) -> bool:
        try:
            path.unlink()
            return True
        except OSError:
            return False


def _size(entry: os.DirEntry) -> int:
    try:
        return entry.stat().st_size
    except OSError:
        return 0


def _mtime(entry: os.DirEntry) -> int:
    try:
        return entry.stat().st_mtime_ns
    except OSError:
        return 0
