"""The `transfer-gui` command end to end, with the real bundled Lite0 on a small synthetic dataset."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from synthetic import make_color_dataset
from transfer_gui.cli import main

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "transfer_gui", *args], capture_output=True,
                          text=True, timeout=timeout, env=ENV)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = make_color_dataset(root / "data", classes=("red", "blue"), per_class=10, size=64,
                              ext=".jpg")
    out = root / "run"
    proc = run_cli("train", "--data", str(data), "--out", str(out), "--epochs", "3")
    return data, out, proc


def test_train_writes_a_run_and_prints_a_summary(trained_run):
    data, out, proc = trained_run
    assert proc.returncode == 0, proc.stderr
    assert "Best epoch" in proc.stdout and "val: accuracy" in proc.stdout
    assert "Computing features" in proc.stderr  # the progress bar
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3
    config = json.loads((out / "config.json").read_text())
    assert config["backbone"] == "efficientnet_lite0" and config["epochs"] == 3
    assert json.loads((out / "evaluation.json").read_text())["splits"]["val"]["num_samples"] > 0


def test_predict_prints_and_writes_csv(trained_run, tmp_path):
    data, out, _ = trained_run
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    csv_path = tmp_path / "pred.csv"
    proc = run_cli("predict", str(out / "model.pt"), str(data / "red"), str(tmp_path / "junk.jpg"),
                   "--csv", str(csv_path))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert len(rows) == 11 and rows[-1]["error"]
    good = rows[:-1]
    assert sum(r["predicted"] == "red" for r in good) >= 9
    assert all(0 <= float(r["probability"]) <= 1 and r["top1"].startswith(r["predicted"] + ":")
               for r in good)


def test_evaluate_a_run_folder(trained_run, tmp_path):
    data, out, _ = trained_run
    proc = run_cli("evaluate", str(out), "--out", str(tmp_path / "scores.json"))
    assert proc.returncode == 0, proc.stderr
    scores = json.loads((tmp_path / "scores.json").read_text())
    saved = json.loads((out / "evaluation.json").read_text())["splits"][scores["split"]]
    assert scores["accuracy"] == pytest.approx(saved["accuracy"])
    assert scores["confusion_matrix"] == saved["confusion_matrix"]


def test_backbones_lists_availability(capsys):
    assert main(["backbones"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_lite0" in out and "bundled" in out and "download needed" in out


@pytest.mark.parametrize("args, named", [
    (["train", "--data", "/no/such/folder", "--out", "{tmp}/r"], "/no/such/folder"),
    (["predict", "{tmp}/missing.pt", "{tmp}"], "missing.pt"),
    (["evaluate", "{tmp}/missing.pt", "--data", "{tmp}"], "missing.pt"),
])
def test_bad_input_exits_2_naming_the_path(args, named, tmp_path, capsys):
    code = main([a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2
    assert named in capsys.readouterr().err


def test_offline_torchvision_backbone_exits_2_with_import_hint(tmp_path, capsys):
    data = make_color_dataset(tmp_path / "d", classes=("red", "blue"), per_class=6)
    code = main(["train", "--data", str(data), "--out", str(tmp_path / "r"), "--backbone",
                 "resnet18", "--offline"])
    assert code == 2 and "import" in capsys.readouterr().err


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_keeps_the_best_model_and_exits_130(tmp_path, stop):
    data = make_color_dataset(tmp_path / "data", classes=("red", "blue"), per_class=10, size=64)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "transfer_gui", "train", "--data", str(data),
                             "--out", str(out), "--mode", "fine_tuning", "--epochs", "200",
                             "--patience", "0", "--batch-size", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 240
    staged = []  # the run is written beside --out and moved into place when it ends
    while time.time() < deadline and not staged:
        time.sleep(0.2)
        staged = list(tmp_path.glob(".run.partial-*/model.pt"))
    assert staged, "no epoch finished in time"
    assert not out.exists()
    proc.send_signal(stop)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Stopped: stopped by the user" in stdout
    result = json.loads((out / "result.json").read_text())
    assert result["cancelled"] and result["has_model"]
    from transfer_gui.core.model_file import load_model

    assert load_model(out).class_names == ["blue", "red"]
