"""The CAM panel: explain an image off the GUI thread, redraw, save, grid; opened from Results."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PIL import Image  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from ui_helpers import forget_unsaved_runs  # noqa: E402
from transfer_gui.core.features import FeatureCache  # noqa: E402
from transfer_gui.core.training.config import TrainConfig  # noqa: E402
from transfer_gui.core.training.engine import train_run  # noqa: E402
from transfer_gui.core.jobs import explain as cam_job  # noqa: E402
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
    panel.target.setCurrentIndex(1)  # the one Class control chooses the grid's class too
    name = trained.dataset.class_names[0]
    assert name in panel.grid_class.text()
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


def test_results_gallery_opens_the_cam_panel(qtbot, tmp_path, trained, settings):
    window = MainWindow(settings, runs_root=tmp_path / "runs")
    qtbot.addWidget(window, before_close_func=forget_unsaved_runs)
    window.state.set_result(trained)
    path = trained.dataset.split("val")[0].path
    window.results_page.openInCam.emit(path, "red", "red")
    panel = window.cam_panel
    assert panel is not None and panel.isVisible()
    qtbot.waitUntil(lambda: panel.current is not None, timeout=20_000)
    assert panel.current.explanation.path == path
    window.close()


def test_the_panel_reads_plainly(qtbot, panel, trained, tmp_path):
    """Point 16: the true class beside the prediction (a mistake says so), the edges the model
    never saw greyed out and explained, the colour bar labelled low -> high, one Class control,
    and a window that fits 1000 px with a usable opacity slider."""
    names = trained.dataset.class_names
    wide = tmp_path / names[1] / "wide.png"  # a class folder: its name is the true class
    wide.parent.mkdir()
    Image.fromarray(np.full((40, 120, 3), (40, 180, 60), np.uint8)).save(wide)
    with qtbot.waitSignal(panel.explained, timeout=20_000) as signal:
        panel.explain(str(wide))
    item = signal.args[0]
    seen = item.display_seen
    assert seen is not None and seen.shape == item.display_image.shape[:2]
    assert seen[20, 45:75].all() and not seen[:, :30].any() and not seen[:, -30:].any()  # centre
    assert panel.crop_note.isVisibleTo(panel) and "never saw" in panel.crop_note.text()
    shown = panel.original_view.pixmap().toImage()
    corner, centre = shown.pixelColor(1, shown.height() // 2), \
        shown.pixelColor(shown.width() // 2, shown.height() // 2)
    assert abs(corner.saturation() - centre.saturation()) > 60  # the edge is faded to grey
    verdict = panel.verdict.text()
    assert f"true class <b>{names[1]}</b>" in verdict
    assert ("Misclassified" in verdict) == (item.explanation.predicted_name != names[1])
    wrong = next(n for n in names if n != item.explanation.predicted_name)
    with qtbot.waitSignal(panel.explained, timeout=20_000):
        panel.explain(str(wide), true_class=wrong)
    assert "Misclassified" in panel.verdict.text() and wrong in panel.verdict.text()
    assert panel.bar.texts() == ("high", "low")
    assert len([w for w in panel.findChildren(QLabel) if w.text() == "Class:"]) == 1
    assert panel.minimumSizeHint().width() <= 1000
    panel.resize(1000, 700)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.opacity.width() >= 150


def test_save_overlay_refuses_a_folder_inside_the_dataset(qtbot, panel, trained, tmp_path,
                                                          monkeypatch):
    """Point 5: the overlay is proposed in the outputs folder, and a folder inside the run's
    dataset is refused with the reason (the next scan would train on the heatmap)."""
    from transfer_gui.core import output_folder
    from transfer_gui.ui.cam import overlay_destination

    outputs = tmp_path / "outputs"
    output_folder.set_output_folder(outputs)
    try:
        path = trained.dataset.split("val")[0].path
        with qtbot.waitSignal(panel.explained, timeout=20_000):
            panel.explain(path)
        inside = Path(path).parent / "heat.png"
        outside = tmp_path / "elsewhere" / "heat.png"
        outside.parent.mkdir()
        answers, proposed, warnings = [str(inside), str(outside)], [], []

        def save_dialog(parent, title, default, filters):
            proposed.append(default)
            return answers.pop(0), filters

        monkeypatch.setattr(overlay_destination.QFileDialog, "getSaveFileName", save_dialog)
        monkeypatch.setattr(overlay_destination.QMessageBox, "warning",
                            lambda parent, title, text: warnings.append(text))
        panel.save_button.click()
    finally:
        output_folder.set_output_folder(None)
    assert Path(proposed[0]).parent == outputs / "CAM overlays"
    assert Path(proposed[0]).name == Path(path).stem + "_cam.png"
    assert len(warnings) == 1 and "inside the dataset folder" in warnings[0]
    assert not inside.exists() and outside.is_file()
