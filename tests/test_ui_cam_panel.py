"""The CAM panel: explain an image off the GUI thread, redraw, save, grid; opened from Results."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PIL import Image  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from ui_helpers import forget_unsaved_runs  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.training.config import TrainConfig  # noqa: E402
from transfer_gui.core.training.engine import train_run  # noqa: E402
from transfer_gui.ui.cam import cam_job  # noqa: E402
from transfer_gui.ui.cam.cam_panel import CamPanel  # noqa: E402
from transfer_gui.ui.main_window import MainWindow, cam_layers_for, grid_sources_for  # noqa: E402


@pytest.fixture
def trained(tiny_backbone, color_dataset, tmp_path):
    config = TrainConfig.for_mode(str(color_dataset), backbone="tiny_test", epochs=3, batch_size=8)
    return train_run(config, tmp_path / "run", feature_cache=FeatureCache())


@pytest.fixture
def panel(qtbot, trained):
    p = CamPanel()
    qtbot.addWidget(p)
    p.set_model(str(trained.run_dir / "model.pt"), trained.dataset.class_names,
                cam_layers_for(trained), grid_sources_for(trained))
    yield p
    p.shutdown()


def test_explains_off_the_gui_thread_and_redraws_without_recomputing(qtbot, panel, trained,
                                                                     monkeypatch):
    threads = []
    real = cam_job.explain_image
    monkeypatch.setattr(cam_job, "explain_image",
                        lambda *a, **k: threads.append(threading.get_ident()) or real(*a, **k))
    path = trained.dataset.split("val")[0].path
    with qtbot.waitSignal(panel.explained, timeout=20_000) as signal:
        panel.explain(path)
    assert threads and threading.get_ident() not in threads
    item = signal.args[0]
    assert item.explanation.path == path and item.display_map.shape == item.display_image.shape[:2]
    assert panel.heatmap_view.pixmap() is not None and not panel.heatmap_view.pixmap().isNull()
    assert trained.dataset.class_names[item.explanation.predicted] in panel.info.text() or \
        item.explanation.predicted_name in panel.info.text()
    calls = len(threads)
    heat_before = panel.rendered()[0].copy()
    panel.colormap.setCurrentText("viridis")
    panel.opacity.setValue(80)
    assert len(threads) == calls  # colours and opacity only redraw
    assert not np.array_equal(panel.rendered()[0], heat_before)


def test_choosing_a_class_recomputes_for_that_class(qtbot, panel, trained):
    path = trained.dataset.split("val")[0].path
    with qtbot.waitSignal(panel.explained, timeout=20_000):
        panel.explain(path)
    with qtbot.waitSignal(panel.explained, timeout=20_000) as signal:
        panel.target.setCurrentIndex(panel.target.findData(2))
    assert signal.args[0].explanation.target == 2
    assert signal.args[0].explanation.target_name == trained.dataset.class_names[2]


def test_save_overlay_at_the_original_resolution(qtbot, panel, trained, tmp_path):
    path = trained.dataset.split("val")[0].path
    with qtbot.waitSignal(panel.explained, timeout=20_000):
        panel.explain(path)
    out = tmp_path / "overlay.png"
    panel.save_overlay(str(out))
    assert Image.open(out).size == Image.open(path).size


def test_grid_shows_overlays_of_one_class(qtbot, panel, trained):
    panel.grid_class.setCurrentIndex(0)
    name = panel.grid_class.currentText()
    expected = len(grid_sources_for(trained)[name])
    panel.grid_count.setValue(expected)
    panel.show_grid()
    qtbot.waitUntil(lambda: panel.grid_list.count() == expected, timeout=20_000)
    assert all(not panel.grid_list.item(i).icon().isNull() for i in range(expected))


def test_an_unreadable_image_is_reported_not_crashing(qtbot, panel, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    panel.explain(str(bad))
    qtbot.waitUntil(lambda: "Cannot explain" in panel.info.text(), timeout=20_000)


def test_results_gallery_opens_the_cam_panel(qtbot, tmp_path, trained):
    window = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                        runs_root=tmp_path / "runs")
    qtbot.addWidget(window, before_close_func=forget_unsaved_runs)
    window.state.set_result(trained)
    path = trained.dataset.split("val")[0].path
    window.results_page.openInCam.emit(path, "red", "red")
    panel = window.cam_panel
    assert panel is not None and panel.isVisible()
    qtbot.waitUntil(lambda: panel.current is not None, timeout=20_000)
    assert panel.current.explanation.path == path
    window.close()
