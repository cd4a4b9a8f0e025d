"""Decode-once image storage: RAM up to a budget, then one fixed-record disk cache file.

Training reads every image once per epoch; decoding JPEGs each time would dominate. The
store keeps each decoded (size, size, 3) uint8 square: in memory while the budget allows,
after that in a temporary cache file read back with `os.pread` (no memory map, so cached
pages never count as the app's resident memory).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import numpy as np

from ..jobs import CancelToken, Progress, ProgressCallback, no_progress
from .formats import ImageReadError, load_image_array

DEFAULT_MEMORY_BUDGET = 1_500_000_000
_PROGRESS_INTERVAL_S = 0.2


class _CacheFile:
    """The temporary folder and record file; closing removes both (safe to call twice)."""

    def __init__(self, parent: str | None) -> None:
        self.folder = tempfile.mkdtemp(prefix="transfer_gui_cache_", dir=parent)
        self.fd = os.open(
            os.path.join(self.folder, "images.bin"),
            os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0),
            0o600,
        )

    def write(self, offset: int, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            if hasattr(os, "pwrite"):
                written = os.pwrite(self.fd, view, offset)
            else:  # Windows: callers hold the store lock, so seek + write is safe
                os.lseek(self.fd, offset, os.SEEK_SET)
                written = os.write(self.fd, view)
            view, offset = view[written:], offset + written

    def read(self, offset: int, length: int) -> bytes:
        chunks: list[bytes] = []
        while length > 0:
            if hasattr(os, "pread"):
                chunk = os.pread(self.fd, length, offset)
            else:
                os.lseek(self.fd, offset, os.SEEK_SET)
                chunk = os.read(self.fd, length)
            if not chunk:
                raise OSError("image cache file is shorter than expected")
            chunks.append(chunk)
            offset, length = offset + len(chunk), length - len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        shutil.rmtree(self.folder, ignore_errors=True)


def _close_cache(holder: list[_CacheFile]) -> None:
    if holder:
        holder.pop().close()


class ImageStore:
    """Decoded training images, each decoded once and kept in RAM or in a disk cache.

    Items are read-only uint8 arrays of shape (size, size, 3) made by `load_image_array`.
    Thread-safe: several threads may call `get` at once (decoding runs outside the lock).

    Args:
        paths: The image files, one per item.
        size: Side of each square item in pixels.
        memory_budget_bytes: Items beyond this many bytes go to the disk cache.
        cache_dir: Where to create the temporary cache folder (default: the system temp).
    """

    def __init__(
        self,
        paths: Sequence[str],
        size: int,
        memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
        cache_dir: str | None = None,
    ) -> None:
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        self._paths = [os.fspath(path) for path in paths]
        self._size = size
        self._record_bytes = size * size * 3
        self._budget = memory_budget_bytes
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._in_memory: dict[int, np.ndarray] = {}
        self._on_disk: set[int] = set()
        self._failures: dict[int, str] = {}
        self._cache_holder: list[_CacheFile] = []
        self._closed = False
        self._finalizer = weakref.finalize(self, _close_cache, self._cache_holder)

    @property
    def size(self) -> int:
        return self._size

    @property
    def nbytes_in_memory(self) -> int:
        with self._lock:
            return len(self._in_memory) * self._record_bytes

    @property
    def nbytes_on_disk(self) -> int:
        with self._lock:
            return len(self._on_disk) * self._record_bytes

    @property
    def failures(self) -> dict[int, str]:
        """Items that failed to decode so far: {index: reason}."""
        with self._lock:
            return dict(self._failures)

    def __len__(self) -> int:
        return len(self._paths)

    def __enter__(self) -> ImageStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop every stored image and delete the disk cache. The store is unusable after."""
        with self._lock:
            self._closed = True
            self._in_memory.clear()
            self._on_disk.clear()
            self._finalizer()

    def _cached(self, index: int) -> np.ndarray | None:
        """Return a stored item or None; raises for known failures. Caller holds the lock."""
        if self._closed:
            raise ValueError("the image store is closed")
        if index in self._failures:
            raise ImageReadError(self._failures[index], self._paths[index])
        array = self._in_memory.get(index)
        if array is not None:
            return array
        if index in self._on_disk:
            data = self._cache_holder[0].read(index * self._record_bytes, self._record_bytes)
            return np.frombuffer(data, dtype=np.uint8).reshape(self._size, self._size, 3)
        return None

    def _keep(self, index: int, array: np.ndarray) -> np.ndarray:
        """Store a freshly decoded item in RAM or on disk. Caller holds the lock."""
        in_memory_bytes = len(self._in_memory) * self._record_bytes
        if in_memory_bytes + self._record_bytes <= self._budget:
            self._in_memory[index] = array
            return array
        try:
            if not self._cache_holder:
                self._cache_holder.append(_CacheFile(self._cache_dir))
            self._cache_holder[0].write(index * self._record_bytes, array.data)
            self._on_disk.add(index)
        except OSError:
            pass  # disk full or unwritable: keep working, the item is decoded again next time
        return array

    def get(self, index: int) -> np.ndarray:
        """Return item `index` as a read-only (size, size, 3) uint8 array, decoding it once.

        Raises:
            IndexError: `index` is out of range.
            ImageReadError: The file cannot be decoded (remembered; never retried).
            ValueError: The store is closed.
        """
        if not 0 <= index < len(self._paths):
            raise IndexError(f"image index {index} out of range (0..{len(self._paths) - 1})")
        with self._lock:
            cached = self._cached(index)
        if cached is not None:
            return cached
        try:
            array = load_image_array(self._paths[index], self._size)
        except ImageReadError as error:
            with self._lock:
                self._failures.setdefault(index, error.reason)
            raise
        array.flags.writeable = False
        with self._lock:
            cached = self._cached(index)  # another thread may have finished first
            return cached if cached is not None else self._keep(index, array)

    def get_many(self, indices: Iterable[int]) -> np.ndarray:
        """Return the items as one (B, size, size, 3) uint8 array (a writable copy)."""
        arrays = [self.get(index) for index in indices]
        if not arrays:
            return np.empty((0, self._size, self._size, 3), dtype=np.uint8)
        return np.stack(arrays)

    def _is_stored(self, index: int) -> bool:
        with self._lock:
            return index in self._in_memory or index in self._on_disk or index in self._failures

    def _decode_one(self, index: int) -> str | None:
        try:
            self.get(index)
        except ImageReadError as error:
            return error.reason
        return None

    def decode_all(
        self,
        indices: Iterable[int] | None = None,
        *,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        num_threads: int = 2,
    ) -> dict[int, str]:
        """Decode every item (or the given ones) ahead of training, in worker threads.

        Args:
            indices: Items to decode; all when None.
            progress: Receives Progress(stage="decode") a few times per second.
            cancel: Checked between items; a set token raises `Cancelled` promptly.
            num_threads: Worker threads (Pillow releases the GIL while decoding).

        Returns:
            {index: reason} for every requested item that cannot be decoded.

        Raises:
            Cancelled: The cancel token was set.
        """
        wanted = list(range(len(self._paths))) if indices is None else list(indices)
        if cancel is not None:
            cancel.raise_if_cancelled()
        todo = [index for index in wanted if not self._is_stored(index)]
        total, done = len(wanted), len(wanted) - len(todo)
        started = last_report = time.monotonic()
        progress(Progress(done / total if total else 1.0, f"Decoding images {done}/{total}",
                          stage="decode", done=done, total=total))
        window = max(1, num_threads) * 4  # few queued items so a cancel takes effect fast
        with ThreadPoolExecutor(max(1, num_threads), thread_name_prefix="decode") as pool:
            pending: set[Future[str | None]] = set()
            queue = iter(todo)
            try:
                while True:
                    while len(pending) < window and (index := next(queue, None)) is not None:
                        pending.add(pool.submit(self._decode_one, index))
                    if not pending:
                        break
                    finished, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()  # re-raise unexpected errors (bugs, MemoryError)
                    done += len(finished)
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    now = time.monotonic()
                    if finished and (now - last_report >= _PROGRESS_INTERVAL_S or done == total):
                        last_report = now
                        progress(self._decode_progress(done, total, len(todo), now - started))
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        with self._lock:
            return {index: self._failures[index] for index in wanted if index in self._failures}

    @staticmethod
    def _decode_progress(done: int, total: int, todo: int, elapsed: float) -> Progress:
        decoded_now = todo - (total - done)
        eta = elapsed / decoded_now * (total - done) if decoded_now > 0 else None
        return Progress(done / total, f"Decoding images {done}/{total}", eta, stage="decode",
                        done=done, total=total)
