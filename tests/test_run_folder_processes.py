"""A good run folder through real concurrent and killed `transfer-gui train` processes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from synthetic import make_color_dataset

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def train(*args: str) -> list[str]:
    return [sys.executable, "-m", "transfer_gui", "train", *args]


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_concurrent_then_killed_retrain_leaves_the_good_run_byte_identical(tmp_path):
    data = make_color_dataset(tmp_path / "data", classes=("red", "blue"), per_class=10, size=64)
    good = tmp_path / "good"
    first = subprocess.run(train("--data", str(data), "--out", str(good), "--epochs", "2"),
                           capture_output=True, text=True, timeout=300, env=ENV)
    assert first.returncode == 0, first.stderr
    before = fingerprint(good)

    # A long retrain into it (--overwrite): it stages beside the good run and holds the lock.
    long_run = subprocess.Popen(
        train("--data", str(data), "--out", str(good), "--overwrite", "--mode", "fine_tuning",
              "--epochs", "200", "--patience", "0", "--batch-size", "4"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not list(tmp_path.glob(".good.partial-*/model.pt")):
            time.sleep(0.2)
        assert list(tmp_path.glob(".good.partial-*/model.pt")), "no epoch finished in time"

        # A second training into the same folder meanwhile is refused, naming the other one.
        second = subprocess.run(train("--data", str(data), "--out", str(good), "--overwrite"),
                                capture_output=True, text=True, timeout=300, env=ENV)
        assert second.returncode == 2, second.stderr
        assert f"process {long_run.pid}" in second.stderr and "is writing" in second.stderr
        assert fingerprint(good) == before
    finally:
        long_run.send_signal(signal.SIGKILL)  # a crash, a power cut: no chance to clean up
        long_run.communicate(timeout=60)
    assert fingerprint(good) == before  # the killed retrain never touched it

    # Its lock is stale now (a dead process on this host): the next retrain takes over.
    third = subprocess.run(train("--data", str(data), "--out", str(good), "--overwrite",
                                 "--epochs", "3"),
                           capture_output=True, text=True, timeout=300, env=ENV)
    assert third.returncode == 0, third.stderr
    assert fingerprint(good) != before and not (tmp_path / ".good.lock").exists()
    assert not list(tmp_path.glob(".good.partial-*"))  # the killed run's staging is cleared
