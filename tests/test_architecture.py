"""The core and the CLI never import Qt (checked by import-linter and by a clean interpreter)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    proc = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_training_from_the_cli_loads_no_qt_module():
    code = ("import sys, transfer_gui.cli, transfer_gui.core.training.engine, transfer_gui.core.predict;"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('PySide6','pyqtgraph','shiboken6')];"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_worker_processes_so_frozen_builds_need_no_special_case():
    """Frozen builds cannot re-run the app as a DataLoader/multiprocessing worker safely; the app
    decodes in threads instead. Keep it so (or default workers to 0 when sys.frozen)."""
    offenders = []
    for path in (ROOT / "transfer_gui").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        # QProcess is allowed: Help > Report a problem runs `transfer-gui --self-test`, a command
        # the frozen build supports, not a worker re-running the app's code.
        text = text.replace("QProcess(", "")
        for needle in ("DataLoader(", "ProcessPoolExecutor", "multiprocessing.Pool", "Process("):
            # a name ending in "Process(" (Windows' GetCurrentProcess) is no worker
            if re.search(r"(?<![A-Za-z_])" + re.escape(needle), text):
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []


def test_freeze_support_comes_first_in_the_entry_points():
    for path in (ROOT / "packaging" / "entry.py", ROOT / "transfer_gui" / "launcher.py"):
        text = path.read_text(encoding="utf-8")
        body = text[text.index("def main(") if "def main(" in text else text.index("__main__"):]
        first_call = next(line.strip() for line in body.splitlines()[1:]
                          if line.strip() and not line.strip().startswith(("#", '"""')))
        assert first_call == "multiprocessing.freeze_support()", (path, first_call)
