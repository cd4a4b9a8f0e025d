"""Build the one-folder app with PyInstaller, check the bundle, write a JSON summary.

    python packaging/build.py [--dist DIR] [--summary PATH] [--budget-mb N]
                              [--cpu-build | --allow-cuda] [--self-test] [--skip-build]

Checks: both executables exist; torchvision's compiled ops are in the bundle; the Lite0
weights file is there and intact; nothing the spec excludes slipped in; no CUDA libraries in a
CPU build; the size stays under the budget (CPU builds: a build bundling PyPI's CUDA torch on
Linux only reports its size). With --self-test, both frozen executables run `--self-test`.
Exit status 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bundle_checks import BundleLayout, run_checks  # noqa: E402

DEFAULT_BUDGET_MB = 1200  # a CPU build; see packaging/README.md for the measured sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller",
                        help="PyInstaller's work folder")
    parser.add_argument("--summary", type=Path, help="JSON summary (default DIST/build-summary.json)")
    parser.add_argument("--budget-mb", type=float, default=DEFAULT_BUDGET_MB,
                        help="largest allowed bundle for a CPU build, in MB (10^6 bytes)")
    cuda = parser.add_mutually_exclusive_group()
    cuda.add_argument("--cpu-build", dest="cpu_build", action="store_true", default=None,
                      help="fail on any CUDA library (default: when the installed torch has no CUDA)")
    cuda.add_argument("--allow-cuda", dest="cpu_build", action="store_false",
                      help="a CUDA build: report CUDA libraries and skip the size budget")
    parser.add_argument("--self-test", action="store_true",
                        help="run both frozen executables' --self-test after the checks")
    parser.add_argument("--skip-build", action="store_true", help="only check an existing bundle")
    return parser.parse_args(argv)


def run_pyinstaller(dist: Path, work: Path) -> float:
    """Run the spec; returns the seconds it took."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "PyInstaller", str(HERE / "transfer_gui.spec"),
                    "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(dist), "--workpath", str(work)], check=True, cwd=ROOT)
    return round(time.perf_counter() - start, 1)


def run_self_tests(layout: BundleLayout, dist: Path) -> list[dict]:
    """Both executables (the windowed one has no console: only its report file tells), and the
    console one's CLI, which must list the bundled backbone without importing Qt."""
    env = dict(os.environ)
    if sys.platform.startswith("linux") and not env.get("DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    proc = subprocess.run([str(layout.console_exe), "backbones"], env=env, capture_output=True,
                          text=True, timeout=300)
    results = [{"name": "frozen CLI (transfer-gui backbones)",
                "passed": proc.returncode == 0 and "efficientnet_lite0" in proc.stdout,
                "detail": {"exit": proc.returncode, "output_tail": (proc.stdout + proc.stderr)[-800:]}}]
    for exe in (layout.console_exe, layout.gui_exe):
        report = dist / f"self-test-{exe.stem}.json"
        report.unlink(missing_ok=True)
        start = time.perf_counter()
        proc = subprocess.run([str(exe), "--self-test", "--report", str(report)], env=env,
                              capture_output=True, text=True, timeout=900)
        data = json.loads(report.read_text()) if report.is_file() else None
        results.append({
            "name": f"self-test {exe.name}", "passed": proc.returncode == 0 and bool(data)
            and data.get("passed") is True and data.get("frozen") is True,
            "detail": {"exit": proc.returncode, "seconds": round(time.perf_counter() - start, 1),
                       "report": str(report),
                       "failed_steps": [s["name"] for s in (data or {}).get("steps", [])
                                        if not s["passed"]],
                       "output_tail": (proc.stdout + proc.stderr)[-2000:]}})
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    cpu_build = torch.version.cuda is None if args.cpu_build is None else args.cpu_build
    build_seconds = None if args.skip_build else run_pyinstaller(args.dist, args.work)
    layout = BundleLayout.find(args.dist)
    checks, sizes = run_checks(layout, cpu_build=cpu_build, budget_mb=args.budget_mb,
                               work=args.work)
    if args.self_test:
        checks += run_self_tests(layout, args.dist)
    summary = {
        "passed": all(c["passed"] for c in checks),
        "platform": platform.platform(), "machine": platform.machine(),
        "python": platform.python_version(), "torch": torch.__version__,
        "torch_cuda": torch.version.cuda, "cpu_build": cpu_build,
        "pyinstaller": _version("PyInstaller"),
        "bundle": str(layout.folder), "build_seconds": build_seconds,
        "budget_mb": args.budget_mb if cpu_build else None, **sizes, "checks": checks,
    }
    path = args.summary or args.dist / "build-summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    for check in checks:
        print(f"{'ok  ' if check['passed'] else 'FAIL'} {check['name']}")
    print(f"bundle {sizes['size_mb']:.0f} MB ({sizes['cuda_mb']:.0f} MB of CUDA libraries); "
          f"summary: {path}")
    return 0 if summary["passed"] else 1


def _version(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    return getattr(__import__(module), "__version__", None)


if __name__ == "__main__":
    sys.exit(main())
