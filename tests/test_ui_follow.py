"""File > Follow a run folder… (issue 17): the window follows a run that another process is
writing (a real `transfer-gui train` subprocess), shows its epochs as they come and, once the
run is in place, adds it to the project and selects it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from synthetic import make_color_dataset


def test_the_window_follows_a_training_process_and_the_run_joins_the_project(
        qtbot, make_window, tmp_path):
    data = make_color_dataset(tmp_path / "data", classes=("red", "blue"), per_class=8, size=64)
    runs = tmp_path / "shared" / "runs"
    runs.mkdir(parents=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "transfer_gui", "train", "--data", str(data), "--out",
         str(runs / "server_run"), "--mode", "fine_tuning", "--epochs", "3", "--batch-size",
         "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        window = make_window()
        deadline = time.time() + 120
        while time.time() < deadline and not list(runs.glob(".server_run.partial-*")):
            time.sleep(0.1)  # the training has started writing
        follow = window.follow_run(runs)  # the folder that holds it: its newest run
        assert follow is not None and follow.follower.state.destination == runs / "server_run"
        qtbot.waitUntil(lambda: follow.result is not None, timeout=180_000)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
    finally:
        if child.poll() is None:
            child.kill()
    result = follow.result
    assert result.run_dir == runs / "server_run" and result.has_model
    assert window.state.runs == [result.run_dir] and window.state.result is result
    assert follow.plots.points("val_acc") == len(result.history)  # every epoch line drawn
    assert "see Results" in follow.status.text()
    # the run's dataset opens (none was open), so its Results can be shown
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    assert window.reachable(window.pages.index(window.results_page))
    follow.close()
