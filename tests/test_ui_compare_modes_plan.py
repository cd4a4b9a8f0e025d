"""Compare modes (issue 12.6): each mode trains with its own defaults and the user's changes to
that mode, only after a confirmation that says how long it takes; the table shows the time per
epoch."""

from __future__ import annotations

import json
import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from synthetic import make_color_dataset  # noqa: E402
from transfer_gui.core.training.config import MODES, TrainConfig  # noqa: E402
from transfer_gui.core.training.image_costs import measure_image_costs  # noqa: E402
from transfer_gui.core.training.time_estimate import (ImageCosts, SplitSizes,  # noqa: E402
                                                      planned_seconds)

TIMEOUT = 120_000
QUESTION = re.compile(r"^This trains three models: (less than a minute|about \d+ minutes?) on "
                      r"this computer\. Start\?$")


def answer_confirmation(qtbot, button_text: str, seen: list) -> QTimer:
    """Click `button_text` in the confirmation as soon as it shows; its texts go to `seen`."""
    timer = QTimer()

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == "compareModesConfirm":
            timer.stop()
            seen.append((box.text(), box.informativeText()))
            next(b for b in box.buttons() if b.text().replace("&", "") == button_text).click()

    timer.timeout.connect(poll)
    timer.start(20)
    return timer


def test_each_mode_its_own_settings_after_a_confirmation(qtbot, make_window, tiny_backbone,
                                                         tmp_path):
    data = make_color_dataset(tmp_path / "data", per_class=9)
    window = make_window()
    window.data_page.open_folder(str(data))
    qtbot.waitUntil(lambda: window.state.dataset is not None, timeout=20_000)
    state = window.state
    state.set_backbone("tiny_test")
    state.set_mode("from_scratch")
    state.set_setting("epochs", 1)
    state.set_setting("batch_size", 8)
    state.set_mode("fine_tuning")
    state.set_setting("epochs", 2)
    state.set_setting("batch_size", 8)
    state.set_mode("feature_extraction")  # the chosen mode: its seed serves all three
    state.set_setting("epochs", 4)
    state.set_setting("seed", 3)
    window.open_compare()
    view = window.compare_view

    seen = []
    timer = answer_confirmation(qtbot, "Cancel", seen)
    view.compare_button.click()
    qtbot.waitUntil(lambda: bool(seen) and not view.estimate_runner.is_running(),
                    timeout=TIMEOUT)
    timer.stop()
    assert QUESTION.match(seen[0][0]), seen[0][0]
    lines = seen[0][1].splitlines()
    assert lines[0].startswith("Feature extraction: ") and "(up to 4 rounds)" in lines[0]
    assert lines[1].startswith("Fine-tuning: ") and "(up to 2 epochs)" in lines[1]
    assert lines[2].startswith("From scratch: ") and "(up to 1 epochs)" in lines[2]
    assert not view.is_running() and view.summaries() == [] and "Not started" in view.status.text()
    assert view.compare_button.isEnabled()

    timer = answer_confirmation(qtbot, "Start", seen)
    with qtbot.waitSignal(view.runner.finished, timeout=TIMEOUT) as done:
        view.compare_button.click()
    timer.stop()
    configs = [json.loads((p / "config.json").read_text()) for p in done.args[0]]
    assert [c["mode"] for c in configs] == list(MODES)
    assert [c["epochs"] for c in configs] == [4, 2, 1]  # each mode's own, not the chosen one's
    assert [c["augmentation"] for c in configs] == ["none", "light", "strong"]  # their defaults
    assert [c["batch_size"] for c in configs] == [32, 8, 8]
    assert all(c["seed"] == 3 for c in configs)
    column = next(i for i in range(view.table.columnCount())
                  if view.table.horizontalHeaderItem(i).text() == "Time per epoch")
    cells = [view.table.item(r, column).text() for r in range(view.table.rowCount())]
    assert len(cells) == 3 and all(re.match(r"^\d[\d.e-]* s$", c) for c in cells), cells
    assert all(s.epoch_seconds and s.epoch_seconds > 0 for s in view.summaries())


def test_planned_seconds_follow_epochs_images_and_mode():
    costs = ImageCosts(decode=0.01, forward=0.02, train=0.1)
    sizes = SplitSizes(train=200, val=50, test=50)
    fe, ft, scratch = (TrainConfig.for_mode("/d", m) for m in MODES)
    # feature extraction: one pass over every image, whatever its rounds
    assert planned_seconds(fe, sizes, costs) == pytest.approx(
        planned_seconds(fe.with_changes(epochs=3), sizes, costs))
    assert planned_seconds(fe, sizes, costs) == pytest.approx(300 * 0.03 + 3.0)
    epoch = 200 * 0.1 + 50 * 0.02
    one_more = planned_seconds(ft.with_changes(epochs=11), sizes, costs) \
        - planned_seconds(ft, sizes, costs)
    assert one_more == pytest.approx(epoch)
    assert planned_seconds(scratch, sizes, costs) == pytest.approx(
        300 * 0.01 + 30 * epoch + 100 * 0.02)
    augmented = fe.with_changes(augmentation="light", feature_views=4)
    assert planned_seconds(augmented, sizes, costs) == pytest.approx(
        300 * 0.01 + (300 + 200 * 4) * 0.02 + 3.0)  # decoded once, a forward pass per view


def test_image_costs_are_measured(tiny_backbone, tmp_path):
    data = make_color_dataset(tmp_path / "data", per_class=2)
    files = sorted(str(p) for p in data.rglob("*.png"))
    costs = measure_image_costs("tiny_test", files + [str(tmp_path / "missing.png")])
    assert 0 < costs.decode < 1 and 0 < costs.forward < 1 and 0 < costs.train < 2
