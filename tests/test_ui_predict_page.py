"""Predict page: streaming predictions, thresholds, CSV export, Stop, errors, thumbnails, CAM."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import csv
import shutil
import threading
import time

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt

from synthetic import make_color_dataset, tiny_spec
from ui_helpers import show_page
from transfer_gui.core.features import FeatureCache
from transfer_gui.core.model_file import load_model
from transfer_gui.core.models import register_backbone, unregister_backbone
from transfer_gui.core.predict import collect_images, predict_images
from transfer_gui.core.training.config import TrainConfig
from transfer_gui.core.training.engine import train_run
from transfer_gui.core.jobs import predict as predict_job
from transfer_gui.ui import thumbnails
from transfer_gui.ui.predict import predict_page
from transfer_gui.ui.predict.predict_page import (COL_CONFIDENCE, COL_FILE, COL_FLAG, COL_PREDICTED,
                                                  COL_TOP, CSV_COLUMNS, PredictPage)
from transfer_gui.ui.state import AppState


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short real run of the tiny backbone on 3 colour classes; the backbone stays registered
    for the module (the page's job loads model.pt, which rebuilds it)."""
    root = tmp_path_factory.mktemp("predict_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(root / "torch_home"))
        spec = tiny_spec(root / "tiny.pth")
        register_backbone(spec)
        try:
            data = make_color_dataset(root / "colors", per_class=12)
            config = TrainConfig.for_mode(str(data), "feature_extraction", backbone="tiny_test",
                                          epochs=3, batch_size=8)
            result = train_run(config, root / "run", feature_cache=FeatureCache())
            new = make_color_dataset(root / "new", per_class=5, seed=7)
            yield result, new
        finally:
            unregister_backbone(spec.name)


@pytest.fixture
def page(qtbot):
    state = AppState()
    widget = show_page(qtbot, PredictPage(state))
    yield widget
    widget.shutdown()


def wait_idle(qtbot, page, timeout=20_000):
    qtbot.waitUntil(lambda: not page.is_running(), timeout=timeout)


def run_on(qtbot, page, paths):
    with qtbot.waitSignal(page.runner.stopped, timeout=30_000):
        page.add_paths([str(p) for p in paths])
    wait_idle(qtbot, page)


def test_without_a_model_the_page_says_train_first(page):
    assert page.title() == "Predict"
    assert page.blocker() == ""
    assert page.stack.currentWidget() is page.no_model
    assert "Train a model first" in page.no_model.text()
    assert not page.add_files_button.isEnabled()
    assert not page.add_folder_button.isEnabled()
    assert page.add_paths(["/nonexistent"]) == 0


def test_every_control_has_a_tooltip(page):
    for w in (page.add_files_button, page.add_folder_button, page.clear_button,
              page.export_button, page.threshold, page.stop_button, page.table,
              page.progress_bar, page.summary):
        assert w.toolTip(), w


def test_predicts_a_folder_like_the_core_and_exports_csv(qtbot, page, trained, tmp_path):
    result, new = trained
    page.state.set_result(result)
    assert page.add_folder_button.isEnabled()
    assert page.stack.currentWidget() is page.drop_hint
    assert page.model_in_use.text().startswith("Model in use: Feature extraction · Tiny test net")
    run_on(qtbot, page, [new])

    files = collect_images([str(new)])
    expected = list(predict_images(load_model(result.run_dir / "model.pt"), files, top_k=3))
    assert page.table.rowCount() == len(files) == 15
    assert page.stack.currentWidget() is page.table
    for row, p in enumerate(expected):
        assert page.table.item(row, COL_FILE).text() == os.path.basename(p.path)
        assert page.table.item(row, COL_FILE).toolTip() == p.path
        assert page.table.item(row, COL_PREDICTED).text() == p.predicted
        assert page.table.item(row, COL_CONFIDENCE).text() == f"{p.probability * 100:.1f}%"
        assert page.predictions[row].probability == pytest.approx(p.probability, abs=1e-5)
        top = page.table.item(row, COL_TOP).text()
        assert top.startswith(f"{p.top[0][0]} (") and top.count(" · ") == 2
    assert "Predicted 15 images" in page.status.text()

    out = page.export_csv(tmp_path / "sub" / "pred.csv")
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == CSV_COLUMNS == ["file", "predicted", "probability", "top1", "top2", "top3",
                                      "error", "unlike_score", "unlike_training", "uncertain"]
    assert len(rows) == 1 + len(expected)
    for row, p in zip(rows[1:], expected):
        assert row[0] == p.path and row[1] == p.predicted and row[6] == ""
        assert float(row[7]) == pytest.approx(p.unlike_score, abs=0.006)
        assert row[8] == ("not like any training class" if p.unlike_training else "")
        assert row[9] == ("yes" if p.probability < page.threshold_value() else "no")
        assert float(row[2]) == pytest.approx(p.probability, abs=1e-5)
        assert row[3].startswith(p.top[0][0] + ":")
    assert not list((tmp_path / "sub").glob(".*tmp"))  # atomic: no temp file left

    # Adding the same folder again adds nothing.
    assert page.add_paths([str(new)]) == 0
    assert page.table.rowCount() == 15


def test_threshold_reflags_rows_without_a_new_job(qtbot, page, trained, monkeypatch):
    result, new = trained
    page.state.set_result(result)
    run_on(qtbot, page, [new])
    starts = []
    monkeypatch.setattr(page.runner, "start", lambda *a: starts.append(a))

    probs = sorted(p.probability for p in page.predictions)
    assert len(set(probs)) > 2
    for threshold in (0.0, (probs[4] + probs[5]) / 2, 1.0):
        page.set_threshold(threshold)
        t = page.threshold_value()
        want = [p.probability < t for p in page.predictions]
        unlike = [bool(p.unlike_training) for p in page.predictions]
        flags = [page.table.item(r, COL_FLAG).text() for r in range(page.table.rowCount())]
        assert flags == ["Not like any training class" if u else "Uncertain" if w else ""
                         for w, u in zip(want, unlike)]
        for r, (w, u) in enumerate(zip(want, unlike)):
            colour = page.table.item(r, COL_PREDICTED).background().color()
            assert (colour == predict_page.UNCERTAIN_BG) == (w and not u)
        n = sum(want)
        assert page.summary.text().startswith(f"{n} of 15 images below {t * 100:g}% confidence")
    assert page.threshold.value() == 1.0
    assert not starts and not page.is_running()


def test_default_threshold_is_0_7(page):
    assert page.threshold_value() == pytest.approx(0.7)


def test_unreadable_file_shows_an_error_row(qtbot, page, trained, tmp_path):
    result, new = trained
    page.state.set_result(result)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a JPEG")
    good = collect_images([str(new)])[0]
    run_on(qtbot, page, [bad, good])
    assert page.table.rowCount() == 2
    assert page.predictions[0].error
    assert page.table.item(0, COL_PREDICTED).text() == page.predictions[0].error
    assert page.table.item(0, COL_FLAG).text() == "Error"
    assert page.table.item(0, COL_CONFIDENCE).text() == ""
    assert page.flag_of(0) == "error"
    assert page.table.item(1, COL_FLAG).text() in ("", "Uncertain")
    assert "1 unreadable" in page.summary.text()
    assert page.status.text() == "Predicted 1 of 2 images, 1 unreadable"
    page.set_threshold(0.0)
    assert page.table.item(0, COL_FLAG).text() == "Error"  # errors stay flagged
    rows = list(csv.reader(open(page.export_csv(tmp_path / "p.csv"), encoding="utf-8")))
    assert rows[1][0] == str(bad) and rows[1][1] == "" and rows[1][2] == "" and rows[1][6]
    assert rows[1][7:] == ["", "", ""]  # an unreadable image has no score, flag nor certainty
    assert rows[2][9] == "no"  # threshold 0: nothing is uncertain


def test_stop_keeps_rows_so_far_and_ends_promptly(qtbot, page, trained, tmp_path, monkeypatch):
    result, new = trained
    page.state.set_result(result)
    big = tmp_path / "big"
    big.mkdir()
    source = collect_images([str(new)])
    for i in range(200):
        shutil.copy(source[i % len(source)], big / f"img_{i:03d}.png")
    real = predict_images

    def slow_predict(*args, progress, **kwargs):
        def slow_progress(p):
            progress(p)
            time.sleep(0.05)
        return real(*args, progress=slow_progress, **kwargs)

    monkeypatch.setattr(predict_job, "predict_images", slow_predict)
    page.batch_size = 4
    page.add_paths([str(big)])
    assert page.is_running() and page.stop_button.isVisible()
    qtbot.waitUntil(lambda: page.table.rowCount() >= 12, timeout=20_000)
    page.stop_button.click()
    started = time.monotonic()
    wait_idle(qtbot, page, timeout=3000)
    assert time.monotonic() - started < 2.0
    kept = page.table.rowCount()
    assert 12 <= kept < 200 and kept % 4 == 0
    assert len(page.predictions) == kept
    assert "Stopped after" in page.status.text()
    assert not page.stop_button.isVisible()
    qtbot.wait(300)  # nothing arrives late
    assert page.table.rowCount() == kept


def test_thumbnails_are_made_off_the_gui_thread(qtbot, page, trained, monkeypatch):
    result, new = trained
    page.state.set_result(result)
    threads = []
    real = thumbnails.thumbnail_job

    def spy(state, paths, size):
        threads.append(threading.get_ident())
        return real(state, paths, size)

    monkeypatch.setattr(thumbnails, "thumbnail_job", spy)
    run_on(qtbot, page, [new])
    qtbot.waitUntil(lambda: all(page.has_thumbnail(r) for r in range(page.table.rowCount())),
                    timeout=10_000)
    assert threads and threading.get_ident() not in threads
    icon = page.table.item(0, 0).icon()
    assert not icon.isNull()


def test_double_click_opens_in_cam(qtbot, page, trained):
    result, new = trained
    page.state.set_result(result)
    run_on(qtbot, page, [new])
    row = 3
    rect = page.table.visualItemRect(page.table.item(row, COL_FILE))
    qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(page.openInCam, timeout=2000) as blocker:
        qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [page.predictions[row].path]


def test_result_change_clears_the_table(qtbot, page, trained):
    result, new = trained
    page.state.set_result(result)
    run_on(qtbot, page, [new])
    assert page.table.rowCount()
    page.state.set_result(None)
    assert page.table.rowCount() == 0 and page.stack.currentWidget() is page.no_model


def test_screenshot(qtbot, page, trained, tmp_path):
    result, new = trained
    page.state.set_result(result)
    bad = tmp_path / "scan_0042.jpg"
    bad.write_bytes(b"not an image")
    run_on(qtbot, page, [bad, new])
    probs = sorted(p.probability for p in page.predictions if not p.error)
    page.set_threshold(round(probs[len(probs) // 2], 3))  # a mix of flagged and clear rows
    qtbot.waitUntil(lambda: sum(page.has_thumbnail(r) for r in range(page.table.rowCount()))
                    == page.table.rowCount() - 1, timeout=10_000)
    page.table.setFocus()
    qtbot.wait(100)
    image = page.grab()
    assert image.width() == 1280 and image.height() == 800
    assert image.save("/tmp/predict_page.png")


def test_images_unlike_the_training_data_are_flagged_in_words(qtbot, page, trained, tmp_path):
    from PIL import Image

    from transfer_gui.ui.predict.predict_table import COL_UNLIKE, UNLIKE_BG

    result, new = trained
    page.state.set_result(result)
    plain = tmp_path / "plain white.png"
    Image.new("RGB", (48, 48), "white").save(plain)  # nothing like the noisy colour classes
    good = collect_images([str(new)])[:3]
    run_on(qtbot, page, [*good, plain])
    expected = list(predict_images(load_model(result.run_dir / "model.pt"), [*good, str(plain)]))
    assert expected[-1].unlike_training and not any(p.unlike_training for p in expected[:-1])
    page.set_threshold(0.0)  # the flag does not depend on the confidence threshold
    for row, p in enumerate(expected):
        cell = page.table.item(row, COL_UNLIKE)
        assert cell.text() == f"{p.unlike_score:.2f}" and "1.0" in cell.toolTip()
        flag = page.table.item(row, COL_FLAG)
        assert flag.text() == ("Not like any training class" if p.unlike_training else "")
        assert (flag.background().color() == UNLIKE_BG) == p.unlike_training
    assert page.table.horizontalHeaderItem(COL_UNLIKE).toolTip().startswith("How unlike")
    assert "1 not like any training class" in page.summary.text()
    rows = list(csv.reader(open(page.export_csv(tmp_path / "p.csv"), encoding="utf-8")))
    assert [r[8] for r in rows[1:]] == ["", "", "", "not like any training class"]
