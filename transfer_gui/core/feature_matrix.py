"""A dataset's feature rows: in memory, or in a disk-backed array when they are many.

100,000 images x 1,280 numbers take 512 MB a view. Above DISK_BACKED_BYTES the rows go into a
numpy memmap in a temporary file (in the feature cache's folder when there is one, else the
system's temporary folder), so the operating system can keep them on disk instead of in memory;
each step then reads only the rows it asks for (`center`, `all_views`). The file is anonymous:
it disappears with the rows. Space for it is claimed up front, so a full disk falls back to
memory instead of failing mid-way.
"""

from __future__ import annotations

import errno
import mmap
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

DISK_BACKED_BYTES = 64 * 1024 ** 2
GATHER_ROWS = 8192  # rows read from a disk-backed array at a time
_ZEROS = 16 * 1024 ** 2  # bytes written at a time where the space cannot be claimed at once


def allocate_rows(count: int, dim: int, spill_dir: Optional[str | os.PathLike] = None,
                  disk_backed_bytes: Optional[int] = None) -> np.ndarray:
    """A zeroed float32 (count, dim) array: a memmap on disk above `disk_backed_bytes`
    (default DISK_BACKED_BYTES)."""
    size = count * dim * 4
    limit = DISK_BACKED_BYTES if disk_backed_bytes is None else disk_backed_bytes
    if size <= limit or count == 0:
        return np.zeros((count, dim), np.float32)
    try:
        handle = tempfile.TemporaryFile(prefix="transfer_gui-features-",
                                        dir=spill_dir if spill_dir and os.path.isdir(spill_dir)
                                        else None)
    except OSError:
        return np.zeros((count, dim), np.float32)
    try:
        _claim_space(handle, size)
        rows = np.memmap(handle, dtype=np.float32, mode="r+", shape=(count, dim))
    except OSError:  # a full disk or no memory map here: the rows stay in memory
        handle.close()
        return np.zeros((count, dim), np.float32)
    handle.close()  # the map keeps the (already unlinked) file until the rows are gone
    return rows


def _claim_space(handle, size: int) -> None:
    """Make the file `size` bytes of real disk blocks (a sparse file on a full disk would kill
    the process with SIGBUS at the first write into the map)."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(handle.fileno(), 0, size)
            return
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise  # else the file system cannot: write the zeros instead
    handle.seek(0)
    zeros = bytes(min(_ZEROS, size))
    left = size
    while left > 0:
        handle.write(zeros[:min(left, len(zeros))])
        left -= min(left, len(zeros))
    handle.flush()


def release_pages(rows: np.ndarray) -> None:
    """Take a disk-backed array's pages out of this process's memory (Linux): they stay in the
    file (a shared mapping loses nothing) and are read back when touched. Otherwise a memmap's
    touched pages count as the process's memory until the system runs short."""
    handle = getattr(rows, "_mmap", None)
    if handle is not None and sys.platform.startswith("linux") and hasattr(mmap, "MADV_DONTNEED"):
        handle.madvise(mmap.MADV_DONTNEED)


def gather(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """matrix[rows] in memory, read in chunks from a disk-backed matrix (whose pages are
    released after each chunk)."""
    if not isinstance(matrix, np.memmap):
        return np.array(matrix[rows], np.float32).reshape(len(rows), matrix.shape[1])
    out = np.empty((len(rows), matrix.shape[1]), np.float32)
    for k in range(0, len(rows), GATHER_ROWS):
        out[k:k + GATHER_ROWS] = matrix[rows[k:k + GATHER_ROWS]]
        release_pages(matrix)
    return out


def starts_of(counts: np.ndarray) -> np.ndarray:
    """Where each file's rows start when files with `counts` rows are stored one after another."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


@dataclass
class DatasetFeatures:
    """Backbone features of a list of image files.

    File i's views are rows `starts[i] : starts[i] + counts[i]` of `matrix`, the centre view
    first; files that could not be decoded are in `failures` (index -> reason) and have no rows.
    `matrix` may be a disk-backed memmap (feature_matrix.allocate_rows).
    """

    files: list[str]
    matrix: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    failures: dict[int, str]

    @classmethod
    def from_views(cls, files: Sequence[str], views: Sequence[np.ndarray],
                   failures: dict[int, str]) -> "DatasetFeatures":
        """From one (views, dim) array per file (in memory)."""
        counts = np.array([len(v) for v in views], np.int64)
        starts = starts_of(counts)
        dim = next((v.shape[1] for v in views if len(v)), 0)
        matrix = (np.concatenate([v for v in views if len(v)]).astype(np.float32, copy=False)
                  if counts.sum() else np.zeros((0, dim), np.float32))
        return cls(list(files), matrix, starts, counts, dict(failures))

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def views_of(self, i: int) -> np.ndarray:
        """(views, dim): file i's rows (empty for a failure)."""
        return self.matrix[self.starts[i]:self.starts[i] + self.counts[i]]

    def center(self, positions: Sequence[int]) -> np.ndarray:
        """(len(positions), dim) in memory: the centre-view features of those files."""
        return gather(self.matrix, self.starts[np.asarray(positions, np.int64)])

    def all_views(self, positions: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, owner) in memory: every view of those files, and which of `positions` (its
        index there) each row belongs to."""
        positions = np.asarray(positions, np.int64)
        counts = self.counts[positions]
        owner = np.repeat(np.arange(len(positions)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = self.starts[positions][owner] + offsets
        return gather(self.matrix, rows), owner


__all__ = ["DatasetFeatures", "allocate_rows", "DISK_BACKED_BYTES"]
