"""Files on this computer, in the GUI: "Open folder" without a file manager says where the folder
is; Settings shows the outputs folder and the saved features' size, with a limit and Clear."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402,F401  (before PySide6, as the app does)
from PySide6.QtGui import QDesktopServices, QGuiApplication  # noqa: E402
from PySide6.QtWidgets import QMessageBox, QWidget  # noqa: E402

from transfer_gui.core import output_folder as core_output_folder  # noqa: E402
from transfer_gui.core.feature_cache import FeatureCache  # noqa: E402
from transfer_gui.ui import folders  # noqa: E402
from transfer_gui.ui.settings.storage_rows import StorageRows, format_bytes  # noqa: E402


def test_open_folder_without_a_file_manager_shows_the_path(qtbot, tmp_path, monkeypatch):
    parent = QWidget()
    qtbot.addWidget(parent)
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)  # no file manager
    box = folders.open_folder(parent, tmp_path / "run 1")
    assert box is not None and box.isVisible()
    assert box.text() == str(tmp_path / "run 1")
    copy = next(b for b in box.buttons() if "Copy" in b.text())
    copy.click()
    assert QGuiApplication.clipboard().text() == str(tmp_path / "run 1")
    box.close()
    # With a file manager, nothing else is shown.
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: True)
    assert folders.open_folder(parent, tmp_path) is None


def test_the_train_page_open_folder_button_uses_it(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window()
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    window.train_page.run_dir = tmp_path
    window.train_page.open_folder.setEnabled(True)
    window.train_page.open_folder.click()
    box = window.train_page.findChild(QMessageBox, "folderPathMessage")
    assert box is not None and box.text() == str(tmp_path)
    box.close()


def test_storage_rows_show_the_folder_and_the_saved_features(qtbot, settings, tmp_path):
    cache = FeatureCache(tmp_path / "features")
    cache.store("r", [f"/d/a/x{i}.png|1|1" for i in range(1000)], np.ones((1000, 64), np.float32))
    cache.save()
    moved = []
    rows = StorageRows(settings, cache, on_folder_changed=moved.append)
    qtbot.addWidget(rows)
    assert rows.folder_label.text().endswith("Transfer GUI")
    size = cache.disk_bytes()
    assert size > 256_000 and rows.features_label.text() == format_bytes(size)
    assert rows.clear_button.isEnabled()

    rows.set_folder(str(tmp_path / "outputs"))
    assert moved == [tmp_path / "outputs"] and rows.folder_label.text() == str(tmp_path / "outputs")
    assert settings.value(folders.OUTPUT_FOLDER_KEY) == str(tmp_path / "outputs")
    assert core_output_folder.default_output_folder() == tmp_path / "outputs"  # CAM, Predict

    rows.limit.setValue(2.5)
    assert cache.disk.max_bytes == int(2.5 * folders.GB)
    assert folders.feature_limit_bytes(settings) == int(2.5 * folders.GB)

    assert rows.clear() == size
    assert cache.disk_bytes() == 0 and not rows.clear_button.isEnabled()
    assert "0 bytes" in rows.features_label.text()


def test_storage_rows_for_a_memory_only_cache(qtbot, settings):
    rows = StorageRows(settings, FeatureCache())
    qtbot.addWidget(rows)
    assert rows.features_label.text() == "kept in memory only"
    assert not rows.clear_button.isEnabled() and not rows.limit.isEnabled()


def test_new_runs_go_to_the_outputs_folder(qtbot, tmp_path, qt_test_paths, settings):
    from transfer_gui.ui.main_window import MainWindow
    from ui_helpers import forget_unsaved_runs

    settings.setValue(folders.OUTPUT_FOLDER_KEY, str(tmp_path / "mine"))
    window = MainWindow(settings)
    qtbot.addWidget(window, before_close_func=forget_unsaved_runs)
    assert window.train_page.runs_root == tmp_path / "mine" / "runs"
    window.open_compare()
    assert window.compare_view.app_runs_root == tmp_path / "mine" / "runs"
    window.storage_rows.set_folder(str(tmp_path / "other"))
    assert window.train_page.runs_root == tmp_path / "other" / "runs"
    assert window.compare_view.app_runs_root == tmp_path / "other" / "runs"  # Compare modes
    assert window.settings_page.isAncestorOf(window.storage_rows)  # on the Settings page


def test_format_bytes():
    assert format_bytes(0) == "0 bytes"
    assert format_bytes(1536) == "1.5 KB"
    assert format_bytes(3 * 1024 ** 3) == "3.0 GB"


def test_a_long_outputs_path_does_not_widen_the_settings(qtbot, settings, tmp_path):
    rows = StorageRows(settings, FeatureCache())
    qtbot.addWidget(rows)
    narrow = rows.minimumSizeHint().width()
    rows.set_folder(str(tmp_path / ("a-very-long-folder-name-" * 12)))
    assert rows.minimumSizeHint().width() <= narrow + 5
    assert str(tmp_path) in rows.folder_label.toolTip()
