"""The peak memory of this process while something runs (a training run, for the Compare window).

`PeakMemory` is a context manager: a small daemon thread reads the process's current resident set
size (RSS: the memory it occupies in RAM) about five times a second, and `reading()` gives the
largest value seen, with the size at the start, so the run's own share is visible.

How the current RSS is read, without new dependencies:
- Linux: /proc/self/statm (resident pages x page size).
- Windows: GetProcessMemoryInfo's WorkingSetSize (psapi, through ctypes).
- macOS and anything else: no current value is readable without a dependency; the process's
  lifetime peak (resource.getrusage ru_maxrss) is read at the start and the end instead, and the
  run's peak is recorded only when that peak rose during the run (then it is the run's own);
  otherwise the reading says "not measured".

On a CUDA device, the largest GPU memory torch allocated during the run is recorded too.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, Callable, Optional

SAMPLE_SECONDS = 0.2  # five readings a second


def _statm_reader() -> Optional[Callable[[], int]]:
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/statm", "rb") as f:
            f.read()
    except (OSError, ValueError, AttributeError):
        return None

    def read() -> int:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * page
    return read


def _windows_reader() -> Optional[Callable[[], int]]:
    if sys.platform != "win32":
        return None
    try:
        import ctypes
        from ctypes import wintypes

        class Counters(ctypes.Structure):  # PROCESS_MEMORY_COUNTERS
            _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD),
                        ("PeakWorkingSetSize", ctypes.c_size_t),
                        ("WorkingSetSize", ctypes.c_size_t),
                        ("QuotaPeakPagedPoolUsage", ctypes.c_size_t),
                        ("QuotaPagedPoolUsage", ctypes.c_size_t),
                        ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
                        ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
                        ("PagefileUsage", ctypes.c_size_t), ("PeakPagefileUsage", ctypes.c_size_t)]

        psapi, kernel32 = ctypes.WinDLL("psapi"), ctypes.WinDLL("kernel32")
        kernel32.GetCurrentProcess.restype = wintypes.HANDLE
        psapi.GetProcessMemoryInfo.argtypes = [wintypes.HANDLE, ctypes.POINTER(Counters),
                                               wintypes.DWORD]
        psapi.GetProcessMemoryInfo.restype = wintypes.BOOL
    except (ImportError, OSError, AttributeError):
        return None

    def read() -> int:
        counters = Counters()
        counters.cb = ctypes.sizeof(Counters)
        if not psapi.GetProcessMemoryInfo(kernel32.GetCurrentProcess(), ctypes.byref(counters),
                                          counters.cb):
            raise OSError("GetProcessMemoryInfo failed")
        return int(counters.WorkingSetSize)
    return read


def current_rss_reader() -> tuple[Optional[Callable[[], int]], str]:
    """A function returning the current RSS in bytes, and how it reads it (None, "" where no
    current value can be read on this system)."""
    reader = _statm_reader()
    if reader is not None:
        return reader, "/proc/self/statm"
    reader = _windows_reader()
    if reader is not None:
        return reader, "GetProcessMemoryInfo"
    return None, ""


def lifetime_peak_rss() -> Optional[int]:
    """The process's largest RSS so far, in bytes (None where unavailable, e.g. Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # Linux: kilobytes


class PeakMemory:
    """Samples this process's RSS while the `with` block runs; `reading()` says the peak.

    Args:
        device: The torch device of the run; on CUDA its peak allocation is recorded too.
        interval: Seconds between readings.
    """

    def __init__(self, device: Any = None, interval: float = SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.device = device
        self._read, self.method = current_rss_reader()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.start_bytes: Optional[int] = None
        self.peak_bytes: Optional[int] = None
        self._lifetime_start: Optional[int] = None

    def _sample(self) -> None:
        try:
            value = self._read()  # type: ignore[misc]
        except (OSError, ValueError, IndexError):
            return
        if self.peak_bytes is None or value > self.peak_bytes:
            self.peak_bytes = value

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "PeakMemory":
        if self._read is not None:
            self._sample()
            self.start_bytes = self.peak_bytes
            self._thread = threading.Thread(target=self._loop, name="peak-memory", daemon=True)
            self._thread.start()
        else:
            self._lifetime_start = lifetime_peak_rss()
        if self._cuda():
            import torch
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """End the sampling (the `with` block does this); the last reading is taken now."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._sample()

    def _cuda(self) -> bool:
        return getattr(self.device, "type", str(self.device or "")) == "cuda"

    def reading(self) -> dict[str, Any]:
        """The peak so far, as a run's result.json keeps it: {"rss_bytes", "start_rss_bytes",
        "method"} (rss_bytes None and method "not measured" where it could not be read), plus
        "gpu_bytes" on CUDA."""
        if self._thread is not None:
            self._sample()
        out: dict[str, Any]
        if self._read is not None:
            out = {"rss_bytes": self.peak_bytes, "start_rss_bytes": self.start_bytes,
                   "method": self.method}
        else:
            end = lifetime_peak_rss()
            rose = (end is not None and self._lifetime_start is not None
                    and end > self._lifetime_start)
            out = {"rss_bytes": end if rose else None, "start_rss_bytes": None,
                   "method": "getrusage ru_maxrss" if rose else "not measured"}
        if self._cuda():
            import torch
            out["gpu_bytes"] = int(torch.cuda.max_memory_allocated(self.device))
        return out


__all__ = ["PeakMemory", "current_rss_reader", "lifetime_peak_rss", "SAMPLE_SECONDS"]
