"""Shared helpers for the benchmark scripts in bench/ (run by hand, never by the test suite).

Importing this module makes the repository root importable (so that `python bench/<script>.py`
finds `transfer_gui` without installing it) and, as the app's entry points do, applies
`transfer_gui.core.runtime.tune_memory_allocator()` unless TRANSFER_GUI_NO_MALLOC_TUNING=1 is set
(the figures record which). No output, no files.

Contents:
- `Figures`: prints one labelled figure per line and, at the end, one JSON line with all of them.
- `Stopwatch`, `StageTimes`: wall-clock timing, and per-stage timestamps from train_run progress.
- `peak_rss_bytes`, `current_rss_bytes`, `run_measured`: peak resident memory of this process
  (VmHWM / ru_maxrss) and of a child process (os.wait4's ru_maxrss).
- `make_synthetic_dataset`, `subset_view`: a cached dataset of many small distinct JPEGs.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

try:
    import resource
except ImportError:  # pragma: no cover - Windows: no getrusage; peak figures come back as None
    resource = None  # type: ignore[assignment]

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `python bench/x.py` puts bench/, not the root, on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from transfer_gui.core.runtime import tune_memory_allocator  # noqa: E402

ALLOCATOR_TUNED = (os.environ.get("TRANSFER_GUI_NO_MALLOC_TUNING") != "1"
                   and tune_memory_allocator())

DEFAULT_DATA = os.environ.get("TRANSFER_GUI_BENCH_DATA", "/work/shared/datasets/hymenoptera_data")
DEFAULT_BACKBONE = "efficientnet_lite0"
JSON_PREFIX = ""  # the final line is bare JSON, so `tail -n1 | python -m json.tool` works


# --------------------------------------------------------------------------------------------
# Reporting


def _fmt(value: Any, digits: int) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@dataclass
class Figures:
    """Collects figures; `add` prints `label: value unit  [target ...]` at once."""

    benchmark: str
    values: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.environment = environment()
        self._t0 = time.perf_counter()

    def add(self, key: str, value: Any, label: str, unit: str = "", *, digits: int = 3,
            target: Optional[tuple[str, float]] = None, note: str = "") -> Any:
        """Record `value` under `key` and print it; `target` is ("<=", 1.3) style."""
        self.values[key] = value
        text = f"{label}: {_fmt(value, digits)}{(' ' + unit) if unit else ''}"
        if target is not None:
            op, bound = target
            met = _meets(value, op, bound)
            self.targets[key] = {"op": op, "bound": bound, "met": met}
            text += f"   [target {op} {bound}: {'MET' if met else 'NOT MET'}]"
        if note:
            text += f"   ({note})"
        print(text, flush=True)
        return value

    def info(self, text: str) -> None:
        print(text, flush=True)

    def finish(self) -> dict[str, Any]:
        """Print the final JSON line (all figures, targets, environment) and return it."""
        self.environment["load_average_end"] = _loadavg()
        self.environment["benchmark_wall_s"] = round(time.perf_counter() - self._t0, 3)
        out = {"benchmark": self.benchmark, "figures": self.values, "targets": self.targets,
               "environment": self.environment}
        print(JSON_PREFIX + json.dumps(out, sort_keys=False, default=_json_default), flush=True)
        return out


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


def _meets(value: Any, op: str, bound: float) -> Optional[bool]:
    if value is None:
        return None
    return {"<=": value <= bound, "<": value < bound, ">=": value >= bound,
            ">": value > bound}[op]


def _loadavg() -> Optional[list[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


def environment() -> dict[str, Any]:
    """Facts that explain a timing: versions, threads, CPUs, load average (others' work too)."""
    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                            "cpu_count": os.cpu_count(), "load_average_start": _loadavg()}
    allocator = {k: v for k, v in os.environ.items()
                 if k.startswith("MALLOC_") or k in ("GLIBC_TUNABLES", "LD_PRELOAD", "OMP_NUM_THREADS")}
    info["allocator_tuned"] = ALLOCATOR_TUNED  # the app's mallopt setting (core/runtime.py)
    if allocator:  # these change CPU timings a lot (see bench/README.md)
        info["allocator_env"] = allocator
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover
        pass
    return info


def print_header(title: str, figures: Figures) -> None:
    env = figures.environment
    print(f"== {title} ==", flush=True)
    print(f"environment: python {env.get('python')}, torch {env.get('torch')} "
          f"({env.get('torch_threads')} threads), {env.get('cpus_usable', env.get('cpu_count'))} "
          f"CPUs usable, CUDA: {env.get('cuda')}, load average {env.get('load_average_start')}"
          + (f", env {env['allocator_env']}" if env.get("allocator_env") else ""), flush=True)


def set_threads(n: Optional[int]) -> None:
    """torch.set_num_threads(n) when n is given (compare runs with the same count)."""
    if n:
        import torch

        torch.set_num_threads(n)


# --------------------------------------------------------------------------------------------
# Timing


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.seconds`; also usable as `sw.start()/sw.stop()`."""

    def __init__(self, sync: Optional[Callable[[], None]] = None) -> None:
        self.sync = sync or (lambda: None)
        self.seconds = 0.0
        self._t0: Optional[float] = None

    def start(self) -> "Stopwatch":
        self.sync()
        self._t0 = time.perf_counter()
        return self

    def stop(self) -> float:
        self.sync()
        assert self._t0 is not None, "stop() before start()"
        self.seconds += time.perf_counter() - self._t0
        self._t0 = None
        return self.seconds

    def __enter__(self) -> "Stopwatch":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def device_sync(device: Any) -> Callable[[], None]:
    """A function that waits for queued GPU work (timings must not stop before it finishes)."""
    import torch

    if getattr(device, "type", "cpu") == "cuda":
        return torch.cuda.synchronize
    return lambda: None


class StageTimes:
    """A train_run progress callback recording, per stage, the first and last report time
    (seconds since `start()`), optionally forwarding every report to another callback."""

    def __init__(self, forward: Optional[Callable[[Any], None]] = None) -> None:
        self.forward = forward
        self.t0 = time.perf_counter()
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def start(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self, progress: Any) -> None:
        t = time.perf_counter() - self.t0
        self.first.setdefault(progress.stage, t)
        self.last[progress.stage] = t
        if self.forward is not None:
            self.forward(progress)

    def summary(self) -> dict[str, dict[str, float]]:
        return {stage: {"first_s": round(self.first[stage], 3), "last_s": round(self.last[stage], 3)}
                for stage in self.first}


def text_progress(enabled: bool) -> Optional[Callable[[Any], None]]:
    """The CLI's text progress bar on stderr, or None."""
    if not enabled:
        return None
    from transfer_gui.core.cli_progress import TextProgress

    return TextProgress(sys.stderr)


def close_progress(progress: Optional[Callable[[Any], None]]) -> None:
    close = getattr(progress, "close", None)
    if close:
        close()


# --------------------------------------------------------------------------------------------
# Memory

_KIB = 1024


def _proc_status_kib(field_name: str, pid: str = "self") -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])  # always in kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def maxrss_to_bytes(ru_maxrss: int) -> int:
    """ru_maxrss is in KiB on Linux and in bytes on macOS."""
    return ru_maxrss if sys.platform == "darwin" else ru_maxrss * _KIB


def peak_rss_bytes() -> dict[str, Optional[int]]:
    """This process's peak resident memory: VmHWM from /proc (Linux) and getrusage's ru_maxrss."""
    hwm = _proc_status_kib("VmHWM")
    maxrss = (maxrss_to_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
              if resource is not None else None)
    return {"vm_hwm": hwm * _KIB if hwm is not None else None, "ru_maxrss": maxrss}


def current_rss_bytes() -> Optional[int]:
    rss = _proc_status_kib("VmRSS")
    return rss * _KIB if rss is not None else None


def mb(n: Optional[int]) -> Optional[float]:
    """Bytes -> megabytes (10^6), rounded; None stays None."""
    return None if n is None else round(n / 1e6, 1)


@dataclass
class ChildRun:
    returncode: int
    wall_s: float
    ru_maxrss_bytes: Optional[int]
    lines: list[str]

    def tagged_json(self, tag: str) -> Optional[dict]:
        """The JSON after the last line starting with `tag` (what the child reported)."""
        for line in reversed(self.lines):
            if line.startswith(tag):
                return json.loads(line[len(tag):])
        return None


def run_measured(cmd: Sequence[str], *, echo_prefix: Optional[str] = "  | ",
                 env: Optional[dict[str, str]] = None) -> ChildRun:
    """Run `cmd`, echo its stdout (stderr passes through), and return its wall time and peak
    resident memory (ru_maxrss of exactly that child, from os.wait4)."""
    started = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if echo_prefix is not None:
            print(echo_prefix + line, end="", flush=True)
    proc.stdout.close()
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = maxrss_to_bytes(usage.ru_maxrss)
    else:  # pragma: no cover - no wait4: largest of all finished children, if known
        proc.wait()
        peak = (maxrss_to_bytes(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
                if resource is not None else None)
    return ChildRun(proc.returncode, time.perf_counter() - started, peak, lines)


# --------------------------------------------------------------------------------------------
# Synthetic dataset

_MARKER = ".bench_synthetic.json"  # hidden names are ignored by scan_dataset
_IN_PROGRESS = ".bench_synthetic_in_progress"


def class_name(k: int) -> str:
    return f"class_{k:02d}"


def _templates(classes: int, size: int, rng: Any) -> list[Any]:
    """One smooth random picture per class, tinted with a class colour (so it is learnable)."""
    import numpy as np
    from PIL import Image

    out = []
    for k in range(classes):
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize((2 * size, 2 * size), Image.BILINEAR),
                            dtype=np.int16)
        tint = rng.integers(-60, 61, 3)
        out.append(np.clip(smooth + tint, 0, 255).astype(np.int16))
    return out


def make_synthetic_dataset(root: str | Path, classes: int = 10, per_class: int = 2000,
                           size: int = 64, seed: int = 0, quality: int = 85,
                           log: Callable[[str], None] = print,
                           regenerate: bool = False) -> dict[str, Any]:
    """Create (or reuse) ROOT/class_XX/img_XXXXXX.jpg: `classes` x `per_class` distinct JPEGs.

    Each image is a random `size` x `size` window of its class template (twice as large),
    with noise and its index written as a 16-block black/white bar code along the top, so every
    file differs in content; a hash check proves it. A finished dataset leaves a hidden marker
    with its parameters; a matching one is reused unless `regenerate`. A non-empty ROOT that this
    function did not make is never deleted. Returns {"images", "seconds", "reused"}.
    """
    import numpy as np
    from PIL import Image

    root = Path(root)
    params = {"classes": classes, "per_class": per_class, "size": size, "seed": seed,
              "quality": quality, "version": 1}
    marker = root / _MARKER
    if size < 32:
        raise ValueError("image size must be at least 32 pixels")
    if marker.is_file() and not regenerate:
        try:
            if json.loads(marker.read_text())["params"] == params:
                return {"images": classes * per_class, "seconds": 0.0, "reused": True}
        except (ValueError, KeyError):
            pass
    if root.exists() and any(root.iterdir()):
        if not (marker.exists() or (root / _IN_PROGRESS).exists()):
            raise SystemExit(f"{root} exists, is not empty and was not made by this benchmark; "
                             f"choose another --workdir")
        log(f"removing the old synthetic dataset in {root} (other parameters or unfinished)")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / _IN_PROGRESS).write_text("")
    rng = np.random.default_rng(seed)
    templates = _templates(classes, size, rng)
    block = size // 16
    seen: set[bytes] = set()
    started = time.perf_counter()
    total = classes * per_class
    for k in range(classes):
        folder = root / class_name(k)
        folder.mkdir()
        template = templates[k]
        for i in range(per_class):
            n = k * per_class + i
            dy, dx = rng.integers(0, size + 1, 2)
            image = template[dy:dy + size, dx:dx + size] + rng.integers(-12, 13, (size, size, 3))
            image = np.clip(image, 0, 255).astype(np.uint8)
            bits = [(n >> b) & 1 for b in range(16)]  # unique per image in the whole dataset
            for b, bit in enumerate(bits):
                image[:block, b * block:(b + 1) * block] = 255 if bit else 0
            path = folder / f"img_{n:06d}.jpg"
            Image.fromarray(image).save(path, "JPEG", quality=quality)
            digest = hashlib.blake2b(path.read_bytes(), digest_size=16).digest()
            if digest in seen:
                raise RuntimeError(f"duplicate content generated for {path}")
            seen.add(digest)
        log(f"  generated {(k + 1) * per_class:,}/{total:,} images "
            f"({time.perf_counter() - started:.1f} s)")
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"params": params, "seconds": round(seconds, 3)}))
    (root / _IN_PROGRESS).unlink()
    return {"images": total, "seconds": seconds, "reused": False}


def subset_view(root: str | Path, view_root: str | Path, classes: int,
                per_class: Optional[int] = None) -> int:
    """A folder of symlinks showing the first `classes` class folders of ROOT (and, with
    `per_class`, only their first images); returns the number of images it shows."""
    root, view_root = Path(root), Path(view_root)
    if view_root.exists():
        shutil.rmtree(view_root)
    view_root.mkdir(parents=True)
    count = 0
    for k in range(classes):
        source = root / class_name(k)
        files = sorted(p for p in source.iterdir() if p.suffix == ".jpg")
        if per_class is None:
            (view_root / class_name(k)).symlink_to(source.resolve(), target_is_directory=True)
            count += len(files)
        else:
            folder = view_root / class_name(k)
            folder.mkdir()
            for p in files[:per_class]:
                (folder / p.name).symlink_to(p.resolve())
            count += min(per_class, len(files))
    return count
