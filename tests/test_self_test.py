"""`transfer-gui --self-test`: the real window, worker thread, Lite0 epoch and Grad-CAM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from transfer_gui import self_test

EXPECTED_STEPS = ["environment", "torchvision ops", "bundled weights", "Qt system libraries",
                  "tiny dataset", "import Qt",
                  "main window", "open dataset", "train one epoch", "grad-cam", "close"]

# A windowed build: no console, so sys.stdout and sys.stderr are None; the report must still land.
WINDOWED = ("import sys; sys.stdout = sys.stderr = None; from transfer_gui.launcher import main; "
            "sys.exit(main(['--self-test', '--report', sys.argv[1]]))")


def test_self_test_passes_without_a_console(tmp_path):
    report_path = tmp_path / "nested" / "report.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", WINDOWED, str(report_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(report_path.read_text())
    assert report["passed"] is True and report["schema"] == self_test.REPORT_SCHEMA
    assert [s["name"] for s in report["steps"]] == EXPECTED_STEPS
    assert all(s["passed"] and s["error"] is None for s in report["steps"])
    steps = {s["name"]: s["detail"] for s in report["steps"]}
    assert steps["train one epoch"]["epochs"] == 1
    assert steps["train one epoch"]["worker_thread"] == "job-train_job"  # not the GUI thread
    assert steps["grad-cam"]["method"] == "Grad-CAM" and steps["grad-cam"]["map_shape"] == [64, 64]
    assert steps["bundled weights"]["feature_dim"] == 1280
    assert steps["main window"]["platform"] == "offscreen"
    assert report["versions"]["torch"] != "missing" and report["device"]["selected"] in (
        "cpu", "cuda", "mps")
    assert report["seconds"] > 0


def test_a_failing_step_is_reported_and_ends_the_run(tmp_path, monkeypatch, capsys):
    def broken():
        raise RuntimeError("operator torchvision::nms does not exist")

    monkeypatch.setattr(self_test, "check_torchvision_ops", broken)
    report_path = tmp_path / "report.json"
    assert self_test.run_self_test(str(report_path)) == 1
    report = json.loads(report_path.read_text())
    assert report["passed"] is False
    assert [s["name"] for s in report["steps"]] == ["environment", "torchvision ops"]
    failed = report["steps"][-1]
    assert not failed["passed"] and "torchvision::nms" in failed["error"]
    assert "Traceback" in failed["detail"]["traceback"]
    assert "FAILED" in capsys.readouterr().out


def test_without_report_path_the_report_is_printed(monkeypatch, capsys):
    monkeypatch.setattr(self_test, "check_torchvision_ops",
                        lambda: (_ for _ in ()).throw(RuntimeError("stop here")))
    assert self_test.run_self_test(None) == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["passed"] is False and printed["steps"][-1]["name"] == "torchvision ops"


def test_tiny_dataset_has_train_and_val_classes(tmp_path):
    root = self_test.make_tiny_dataset(tmp_path / "d")
    counts = {p.relative_to(root).as_posix(): len(list(p.iterdir()))
              for p in sorted(root.glob("*/*"))}
    assert counts == {"train/blue": 6, "train/red": 6, "val/blue": 2, "val/red": 2}
    assert all(Path(f).suffix == ".png" for f in root.rglob("*.*"))
