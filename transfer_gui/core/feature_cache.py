"""The feature cache: backbone feature rows per (recipe, image file signature), in memory and,
given a directory, on disk across sessions (feature_store.py). features.py fills and reads it."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .atomic import check_writable_folder
from .errors import UserError
from .feature_store import DEFAULT_MAX_BYTES, FeatureStore, signature_group, signature_path


# With a disk folder, rows beyond this many bytes are not kept in memory after a save (a
# 100,000-image set's 512 MB would otherwise stay there beside the run's own copy).
MEMORY_BYTES = 256 * 1024 ** 2


class _Table:
    """Feature rows of one recipe, indexed by file signature; grows by doubling."""

    def __init__(self, dim: int) -> None:
        self.index: dict[str, int] = {}
        self.data = np.empty((0, dim), dtype=np.float32)
        self.size = 0

    def reserve(self, extra: int) -> None:
        """Room for `extra` more rows at once (no doubling while they are added)."""
        if self.size + extra > len(self.data):
            self._grow(self.size + extra)

    def _grow(self, rows: int) -> None:
        grown = np.empty((rows, self.data.shape[1]), np.float32)
        grown[:self.size] = self.data[:self.size]
        self.data = grown

    def add(self, signatures: Sequence[str], rows: np.ndarray) -> None:
        need = self.size + len(signatures)
        if need > len(self.data):
            self._grow(max(need, 2 * len(self.data), 64))
        for sig, row in zip(signatures, rows):
            slot = self.index.setdefault(sig, self.size)
            if slot == self.size:
                self.size += 1
            self.data[slot] = row

    def group_rows(self, groups: set[str]) -> dict[str, tuple[list[str], np.ndarray]]:
        """Per folder in `groups`: the latest signature of each of its images, and their rows."""
        latest: dict[str, dict[str, tuple[int, str]]] = {g: {} for g in groups}
        for sig, slot in self.index.items():
            per_path = latest.get(signature_group(sig))
            if per_path is not None:
                path = signature_path(sig)
                if slot > per_path.get(path, (-1, ""))[0]:  # an edited image: its newest row
                    per_path[path] = (slot, sig)
        out = {}
        for group, per_path in latest.items():
            chosen = sorted(per_path.values())
            out[group] = ([sig for _, sig in chosen], self.data[[slot for slot, _ in chosen]])
        return out


class FeatureCache:
    """Feature vectors per (recipe, image file); thread-safe.

    In memory; given a `directory`, also on disk across sessions (core/feature_store.py: at
    most `max_bytes`, least recently used folders deleted first). The directory is checked
    first, so a file or a read-only folder is refused before any feature is computed (a
    WriteError, a UserError), not when the features are saved.
    """

    def __init__(self, directory: Optional[str | os.PathLike] = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if directory:
            check_writable_folder(directory, "The feature cache folder")
        self.directory = Path(directory) if directory else None
        self.disk = FeatureStore(self.directory, max_bytes) if self.directory else None
        self._tables: dict[str, _Table] = {}
        self._read: set[tuple[str, str]] = set()  # (recipe, folder) entries looked for on disk
        self._unsaved: set[tuple[str, str]] = set()  # ... with rows the disk does not have yet
        self._lock = threading.Lock()

    def _table(self, recipe: str, dim: int) -> _Table:
        table = self._tables.get(recipe)
        if table is None:
            table = self._tables[recipe] = _Table(dim)
        return table

    def _read_from_disk(self, recipe: str, table: _Table, signatures: Sequence[str], dim: int) -> None:
        for group in {signature_group(s) for s in signatures if s not in table.index}:
            if (recipe, group) in self._read:
                continue
            self._read.add((recipe, group))
            saved = self.disk.load(recipe, group, dim)
            if saved is not None:
                fresh = [i for i, sig in enumerate(saved[0]) if sig not in table.index]
                table.add([saved[0][i] for i in fresh], saved[1][fresh])

    def lookup(self, recipe: str, signatures: Sequence[str], dim: int) -> tuple[np.ndarray, list[int]]:
        """(rows, missing): rows has one row per signature; rows listed in `missing` are unset."""
        out = np.zeros((len(signatures), dim), np.float32)
        missing = []
        with self._lock:
            table = self._table(recipe, dim)
            if self.disk is not None:
                self._read_from_disk(recipe, table, signatures, dim)
            for i, sig in enumerate(signatures):
                slot = table.index.get(sig)
                if slot is None:
                    missing.append(i)
                else:
                    out[i] = table.data[slot]
        return out, missing

    def reserve(self, recipe: str, dim: int, extra: int) -> None:
        """Make room for `extra` rows about to be stored (one allocation, not repeated doubling
        with its transient copies: 100,000 rows of 1,280 are 512 MB)."""
        with self._lock:
            self._table(recipe, dim).reserve(extra)

    def store(self, recipe: str, signatures: Sequence[str], rows: np.ndarray) -> None:
        with self._lock:
            self._table(recipe, rows.shape[1]).add(signatures, rows)
            self._unsaved.update((recipe, signature_group(s)) for s in signatures)


    def save(self) -> None:
        """Write the folders that got new rows to the disk cache, then keep it within its size
        limit; no-op without a directory."""
        if self.disk is None:
            return
        with self._lock:
            written = []
            for recipe in {r for r, _ in self._unsaved}:
                groups = {g for r, g in self._unsaved if r == recipe}
                for group, (sigs, rows) in self._tables[recipe].group_rows(groups).items():
                    written.append(self.disk.save(recipe, group, sigs, rows))
            self._unsaved.clear()
            self.disk.evict(keep=written)
            if sum(t.size * t.data.shape[1] * 4 for t in self._tables.values()) > MEMORY_BYTES:
                self._tables.clear()  # all saved: read back from disk when asked for again
                self._read.clear()

    def disk_bytes(self) -> int:
        """Bytes the disk cache takes (0 without one)."""
        return self.disk.size_bytes() if self.disk is not None else 0

    def clear_disk(self) -> int:
        """Delete the disk cache's entries (the features in memory stay); the bytes freed."""
        if self.disk is None:
            return 0
        with self._lock:
            self._read.clear()
            return self.disk.clear()


_default_cache: Optional[FeatureCache] = None


def default_feature_cache() -> FeatureCache:
    """The process-wide cache the GUI's runs share (in memory unless configured)."""
    global _default_cache
    if _default_cache is None:
        _default_cache = FeatureCache()
    return _default_cache


def configure_default_feature_cache(directory: Optional[str | os.PathLike],
                                    max_bytes: int = DEFAULT_MAX_BYTES) -> FeatureCache:
    """Make the process-wide cache keep features in `directory` too (the desktop app passes its
    data folder); returns it. A folder that cannot be written leaves the cache in memory only."""
    global _default_cache
    try:
        _default_cache = FeatureCache(directory, max_bytes)
    except UserError:
        _default_cache = FeatureCache()
    return _default_cache
